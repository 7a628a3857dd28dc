// SEPBN_KERNEL_PLAN=naive|hardware|software and SEPBN_NAIVE_KERNELS=1 change which kernels run,
// never the numbers: one train-mode forward and backward (node cli/grads.js) under each forced plan
// gives the default plan's loss, outputs, running statistics and gradients to f32 rounding, and
// node cli/device.js names the plan in force.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assignValues } from '../../../engine/assign.ts';
import { useBackend } from '../../../engine/backend.ts';
import { maxRelativeError } from '../../../engine/gradcheck.ts';
import { Random } from '../../../engine/random.ts';
import { buildModel, modelConfig } from '../../../models/registry.ts';
import { readSafetensors, writeSafetensors, type NamedArray } from '../../../nn/safetensors.ts';
import { saveStateDict } from '../../../nn/state-dict.ts';
import { gpuSkipped } from '../../gpu.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-kernel-plans-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
/** Width 64: 1..32 channels, so each plan's run takes seconds; 128x128 images still reach every layer shape's kernels. */
const WIDTH = 64;

/** The environment without any forced plan, whatever the caller's (CI may force one for the whole suite). */
const { SEPBN_KERNEL_PLAN: _plan, SEPBN_NAIVE_KERNELS: _naive, ...adapterEnv } = process.env;
const FORCED: Array<{ name: string; env: Record<string, string> }> = [
  { name: 'naive', env: { SEPBN_KERNEL_PLAN: 'naive' } },
  { name: 'hardware', env: { SEPBN_KERNEL_PLAN: 'hardware' } },
  { name: 'software', env: { SEPBN_KERNEL_PLAN: 'software' } },
];

function node(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...adapterEnv, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.split('\n').filter((l) => !l.startsWith('Warning:')).join('\n') };
}

t.before(async () => {
  await useBackend('cpu');
  const rng = new Random(5);
  writeSafetensors(join(dir, 'batch.safetensors'), [
    ['images', { dtype: 'F32', shape: [2, 3, 128, 128], data: Float32Array.from({ length: 2 * 3 * 128 * 128 }, () => rng.uniform(-1, 1)) }],
    ['landmarks', { dtype: 'F32', shape: [2, 196], data: Float32Array.from({ length: 2 * 196 }, () => rng.uniform(20, 108)) }],
  ]);
  await saveStateDict(join(dir, 'baseline.safetensors'), buildModel(modelConfig('baseline', WIDTH, 3)));
  const sepbn = buildModel(modelConfig('sepbn', WIDTH, 3));
  // Distinct K parameter sets (as after training), so the attention's gradients are not zero.
  for (const [name, p] of sepbn.namedParameters()) {
    if (/\.bn\.\d\.(weight|bias)$/.test(name)) assignValues(p, Array.from({ length: p.size }, () => (name.endsWith('weight') ? rng.uniform(0.5, 1.5) : rng.uniform(-0.5, 0.5))));
  }
  await saveStateDict(join(dir, 'sepbn.safetensors'), sepbn);
});

/** One forward and backward of `model` (node cli/grads.js) under `env`; every tensor it writes. */
function grads(t: Test, model: string, label: string, env: Record<string, string>, backend = 'webgpu'): Map<string, NamedArray> {
  const out = join(dir, `${model}-${label}.safetensors`);
  const args = ['cli/grads.js', '--model', model, '--width', String(WIDTH), '--temperature', '2', '--weights', join(dir, `${model}.safetensors`), '--batch', join(dir, 'batch.safetensors'), '--out', out, '--backend', backend];
  const run = node(args, env);
  t.equal(run.status, 0, `${label}: ${run.stderr.trim() || 'exit 0'}`);
  return readSafetensors(out).tensors;
}

const f32 = (t: NamedArray) => t.data as Float32Array;

t.test('baseline: every plan gives the default plan\'s numbers to 1e-5', async (t) => {
  if (gpuSkipped(t)) return;
  // Without normalisation nothing amplifies rounding: the plans differ only in summation order.
  const reference = grads(t, 'baseline', 'default', {});
  t.ok(reference.has('loss') && reference.has('output') && reference.has('grad.conv1.weight') && reference.has('grad.fc2.bias'));
  for (const { name, env } of FORCED) {
    const got = grads(t, 'baseline', name, env);
    t.same([...got.keys()], [...reference.keys()], `${name}: the same tensors`);
    const worst = [...reference].map(([key, want]) => ({ key, err: maxRelativeError(f32(got.get(key)!), f32(want)) })).sort((a, b) => b.err - a.err)[0];
    t.ok(worst.err <= 1e-5, `${name}: largest relative difference ${worst.err.toExponential(2)} (${worst.key})`);
  }
});

t.test('sepbn: every plan gives the default plan\'s numbers, gradients to f32 rounding', async (t) => {
  if (gpuSkipped(t)) return;
  const reference = grads(t, 'sepbn', 'default', {});
  const float64 = grads(t, 'sepbn', 'cpu', {}, 'cpu');
  const plans = [...FORCED, { name: 'naive-synonym', env: { SEPBN_NAIVE_KERNELS: '1' } }];
  const results = new Map(plans.map(({ name, env }) => [name, grads(t, 'sepbn', name, env)]));
  for (const [name, got] of results) {
    t.same([...got.keys()], [...reference.keys()], `${name}: the same tensors`);
    const forward: Array<{ key: string; err: number }> = [];
    const gradients: Array<{ key: string; err: number; bound: number }> = [];
    for (const [key, want] of reference) {
      // num_batches_tracked is a count (I64): equal or not.
      const err = want.dtype === 'I64' ? (got.get(key)!.data[0] === want.data[0] ? 0 : Infinity) : maxRelativeError(f32(got.get(key)!), f32(want));
      if (!key.startsWith('grad.')) {
        forward.push({ key, err });
        continue;
      }
      // A gradient reaching a layer through the BatchNorm backward passes after it is a difference
      // of nearly equal sums, which amplifies f32 rounding in any summation order (the bias of a
      // convolution in front of a normalisation is almost all such noise). The default plan's own
      // distance from the Float64 reference measures that noise; a plan may differ by a few times it.
      gradients.push({ key, err, bound: Math.max(1e-5, 10 * maxRelativeError(f32(want), f32(float64.get(key)!))) });
    }
    const worst = forward.reduce((a, b) => (b.err > a.err ? b : a));
    t.ok(worst.err <= 1e-5, `${name}: loss, outputs and running statistics within 1e-5 (largest ${worst.err.toExponential(2)}, ${worst.key})`);
    t.same(gradients.filter((g) => g.err > g.bound).map((g) => `${g.key} ${g.err.toExponential(2)} > ${g.bound.toExponential(2)}`), [], `${name}: every gradient within its bound`);
    t.ok(gradients.filter((g) => !/^grad\.(conv\d\.bias|bn[12]\.)/.test(g.key)).every((g) => g.err <= 1e-5), `${name}: gradients of layers 3 to 6 and the linear layers within 1e-5`);
  }
  const synonym = results.get('naive-synonym')!;
  const differing = [...results.get('naive')!].filter(([key, x]) => !Buffer.from(x.data.buffer).equals(Buffer.from(synonym.get(key)!.data.buffer)));
  t.same(differing.map(([key]) => key), [], 'SEPBN_NAIVE_KERNELS=1 runs exactly the kernels of SEPBN_KERNEL_PLAN=naive');
});

t.test('node cli/device.js names the plan in force', async (t) => {
  if (gpuSkipped(t)) return;
  const own = node(['cli/device.js', '--json']);
  t.equal(own.status, 0, own.stderr);
  const adapter = JSON.parse(own.stdout);
  t.equal(adapter.kernelPlan, adapter.kind === 'software' ? 'software' : 'hardware', "the adapter's own plan without the switches");
  t.match(node(['cli/device.js']).stdout, /^kernel plan +\w+.*\(the adapter's\)$/m);
  for (const { name, env } of FORCED) {
    t.equal(JSON.parse(node(['cli/device.js', '--json'], env).stdout).kernelPlan, name, `--json: ${name}`);
    t.match(node(['cli/device.js'], env).stdout, new RegExp(`^kernel plan +${name}\\b.*\\(forced by SEPBN_KERNEL_PLAN\\)$`, 'm'), `table: ${name}`);
  }
  t.match(node(['cli/device.js'], { SEPBN_NAIVE_KERNELS: '1' }).stdout, /^kernel plan +naive \(forced by SEPBN_NAIVE_KERNELS=1\)$/m);
  const refused = node(['cli/device.js'], { SEPBN_KERNEL_PLAN: 'fast' });
  t.equal(refused.status, 1, 'an unknown plan is refused');
  t.match(refused.stderr, /SEPBN_KERNEL_PLAN=fast: expected one of hardware, software, naive/);
});
