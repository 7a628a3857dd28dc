// The grads command on both backends for the three networks: every gradient, output, running statistic
// and optimizer step of the WebGPU kernels against the Float64 CPU reference, relative to the
// largest magnitude of each tensor (the bar the issue sets against PyTorch).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assignValues } from '../../engine/assign.ts';
import { useBackend } from '../../engine/backend.ts';
import { Random } from '../../engine/random.ts';
import { buildModel, modelConfig } from '../../models/registry.ts';
import { readSafetensors, writeSafetensors } from '../../nn/safetensors.ts';
import { saveStateDict } from '../../nn/state-dict.ts';
import { gpuSkipped } from '../gpu.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-grads-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
// SEPBN_FULL_SIZE=1 runs the full-size networks at batch 2 (minutes: the reference is Float64 JavaScript).
const FULL = process.env.SEPBN_FULL_SIZE === '1';
const WIDTH = FULL ? 1 : 32;
const N = FULL ? 2 : 3;
/** The grads command's SGD learning rate. */
const LR = 1e-3;

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  for (let i = 0; i < b.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
  return err;
}

t.before(async () => {
  const rng = new Random(5);
  writeSafetensors(join(dir, 'batch.safetensors'), [
    ['images', { dtype: 'F32', shape: [N, 3, 128, 128], data: Float32Array.from({ length: N * 3 * 128 * 128 }, () => rng.uniform(-1, 1)) }],
    ['landmarks', { dtype: 'F32', shape: [N, 196], data: Float32Array.from({ length: N * 196 }, () => rng.uniform(20, 108)) }],
  ]);
});

for (const model of ['baseline', 'bn', 'sepbn'] as const) {
  t.test(`${model}: WebGPU agrees with the Float64 CPU reference`, async (t) => {
    if (gpuSkipped(t)) return;
    await useBackend('cpu');
    const weights = join(dir, `${model}.safetensors`);
    const net = buildModel(modelConfig(model, WIDTH, 3));
    // Distinct K parameter sets (as after training), so the attention's gradients are not zero.
    const rng = new Random(9);
    for (const [name, p] of net.namedParameters()) {
      if (/\.bn\.\d\.(weight|bias)$/.test(name)) assignValues(p, Array.from({ length: p.size }, () => (name.endsWith('weight') ? rng.uniform(0.5, 1.5) : rng.uniform(-0.5, 0.5))));
    }
    await saveStateDict(weights, net);
    let compiled: string[] = [];
    const run = (backend: string) => {
      const out = join(dir, `${model}-${backend}.safetensors`);
      const args = ['cli/grads.js', '--model', model, '--width', String(WIDTH), '--weights', weights, '--batch', join(dir, 'batch.safetensors'), '--out', out, '--optimizer', 'sgd', '--temperature', '2', '--backend', backend];
      // SEPBN_PRINT_WGSL=1 names every kernel compiled, so the run shows which plan it took.
      const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, SEPBN_PRINT_WGSL: '1' } });
      const messages = r.stderr.split('\n').filter((l) => l.startsWith('Error') || l.includes('error'));
      t.equal(r.status, 0, `${backend} run${r.status === 0 ? '' : `: ${messages.join(' ') || r.stderr.slice(-2000)}`}`);
      if (backend === 'webgpu') compiled = [...r.stderr.matchAll(/^--- compiling (\S+)\.wgsl/gm)].map((m) => m[1]);
      return readSafetensors(out).tensors;
    };
    const cpu = run('cpu');
    const gpu = run('webgpu');
    t.ok(compiled.length > 0, `the WebGPU run named the ${compiled.length} kernels it compiled`);
    const special = [...new Set(compiled.filter((k) => /subgroup|narrow/.test(k)))];
    if (process.env.SEPBN_KERNEL_PLAN === 'hardware') t.same(special, [], 'the hardware plan compiled none of the subgroup or narrow kernels');
    else t.comment(`the adapter's own plan compiled ${special.length ? special.join(', ') : 'no subgroup or narrow kernel'}`);
    t.same([...gpu.keys()].sort(), [...cpu.keys()].sort(), 'the same tensors');
    t.ok(cpu.has('grad.conv1.weight') && cpu.has('eval_output') && cpu.has('sgd.fc2.bias'));
    if (model === 'sepbn') t.ok(cpu.has('buffer.bn3.bn.2.running_var') && cpu.has('grad.bn6.fc2.weight'));
    // The bias of a convolution in front of a normalisation gets its gradient from a sum over
    // N, H, W whose batch-norm part cancels exactly (only SepBN's attention path survives), so f32
    // leaves noise that is large next to the small true value on any framework. Such a bias is
    // judged against its layer's weight gradient, a sum of the same terms without cancellation.
    // The parameters after one SGD step move by lr * gradient, so the same holds for them at lr scale.
    const scaleOf = (name: string, w: Float32Array): number => {
      const bias = /^(grad|sgd)\.(conv(\d))\.bias$/.exec(name);
      const normalised = bias && [`buffer.bn${bias[3]}.running_mean`, `buffer.bn${bias[3]}.bn.0.running_mean`].some((n) => cpu.has(n));
      if (!normalised) return maxAbs(w);
      const weightGradient = maxAbs(cpu.get(`grad.${bias[2]}.weight`)!.data as Float32Array);
      return Math.max(maxAbs(w), (bias[1] === 'sgd' ? LR : 1) * weightGradient);
    };
    let worst = { name: '', err: 0 };
    for (const [name, want] of cpu) {
      const got = gpu.get(name)!;
      const err = want.dtype === 'I64'
        ? (got.data[0] === want.data[0] ? 0 : 1)
        : maxDifference(got.data as Float32Array, want.data as Float32Array) / Math.max(scaleOf(name, want.data as Float32Array), 1e-30);
      if (err > worst.err) worst = { name, err };
      t.ok(err <= 1e-3, `${name}: ${err.toExponential(2)}`);
    }
    t.comment(`largest relative difference: ${worst.name} ${worst.err.toExponential(2)}`);
  });
}
