// SEPBN_CHECK_NAN=1 on the CPU backend. The switch is documented for the GPU ("waits for the GPU
// after every op and stops at the first one whose kernel wrote NaN or Inf"): it reads back GPU
// outputs only, so on the CPU it neither stops nor reports, and a NaN in the weights flows through
// to the loss and every gradient downstream of it. This pins that behaviour, so that making the
// switch check the CPU too is a deliberate change of this test.
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

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-nan-cpu-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('on the CPU backend the switch lets a planted NaN through to the loss', async (t) => {
  await useBackend('cpu');
  const model = buildModel(modelConfig('sepbn', 64, 1));
  const conv3 = model.namedParameters().find(([n]) => n === 'conv3.weight')![1];
  const values = Float64Array.from(await conv3.toArray());
  values[5] = NaN;
  assignValues(conv3, values);
  await saveStateDict(join(dir, 'weights.safetensors'), model);
  const rng = new Random(5);
  writeSafetensors(join(dir, 'batch.safetensors'), [
    ['images', { dtype: 'F32', shape: [2, 3, 128, 128], data: Float32Array.from({ length: 2 * 3 * 128 * 128 }, () => rng.uniform(-1, 1)) }],
    ['landmarks', { dtype: 'F32', shape: [2, 196], data: Float32Array.from({ length: 2 * 196 }, () => rng.uniform(20, 108)) }],
  ]);
  const out = join(dir, 'grads.safetensors');
  const args = ['cli/grads.js', '--backend', 'cpu', '--model', 'sepbn', '--width', '64', '--weights', join(dir, 'weights.safetensors'), '--batch', join(dir, 'batch.safetensors'), '--out', out];
  const run = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, SEPBN_CHECK_NAN: '1' } });
  t.equal(run.status, 0, `no stop: ${run.stderr}`);
  t.notMatch(run.stderr, /SEPBN_CHECK_NAN/, 'no report');
  const tensors = readSafetensors(out).tensors;
  t.ok(Number.isNaN(tensors.get('loss')!.data[0]), 'the loss is NaN');
  t.ok(Array.from(tensors.get('grad.fc2.weight')!.data as Float32Array).some(Number.isNaN), 'NaN reaches the gradients');
  // conv1 and conv2 come before the NaN in the forward pass, so only the backward pass brings it to them.
  t.ok(Array.from(tensors.get('buffer.bn2.bn.0.running_mean')!.data as Float32Array).every(Number.isFinite), 'layers before conv3 stay finite in the forward pass');
});
