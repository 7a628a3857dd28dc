// SEPBN_CHECK_NAN=1 stops at the first kernel that writes NaN: here a NaN planted in conv3.weight
// must be reported by conv3's forward convolution, not by anything downstream.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBackend } from '../../../engine/backend.ts';
import { assignValues } from '../../../engine/assign.ts';
import { buildModel, modelConfig } from '../../../models/registry.ts';
import { writeSafetensors } from '../../../nn/safetensors.ts';
import { saveStateDict } from '../../../nn/state-dict.ts';
import { gpuSkipped } from '../../gpu.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-nan-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('the NaN switch names the op and kernel that wrote the first NaN', async (t) => {
  if (gpuSkipped(t)) return;
  await useBackend('cpu');
  const model = buildModel(modelConfig('baseline', 32, 1));
  const conv3 = model.namedParameters().find(([n]) => n === 'conv3.weight')![1];
  const values = Float64Array.from(await conv3.toArray());
  values[5] = NaN;
  assignValues(conv3, values);
  await saveStateDict(join(dir, 'weights.safetensors'), model);
  writeSafetensors(join(dir, 'batch.safetensors'), [
    ['images', { dtype: 'F32', shape: [2, 3, 128, 128], data: new Float32Array(2 * 3 * 128 * 128).fill(0.5) }],
    ['landmarks', { dtype: 'F32', shape: [2, 196], data: new Float32Array(2 * 196).fill(64) }],
  ]);
  const args = ['cli/grads.js', '--model', 'baseline', '--width', '32', '--weights', join(dir, 'weights.safetensors'), '--batch', join(dir, 'batch.safetensors'), '--out', join(dir, 'g.safetensors')];
  const run = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, SEPBN_CHECK_NAN: '1' } });
  t.equal(run.status, 1);
  t.match(run.stderr, /SEPBN_CHECK_NAN: op conv2d wrote NaN/);
  t.match(run.stderr, /kernels: conv2d_\w+ \(x\[2,4,32,32\] weight\[8,4,3,3\]/, 'the third convolution (4 -> 8 channels at 32x32), whichever kernel the adapter gets');
  const clean = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  t.equal(clean.status, 0, 'without the switch the NaN just flows on');
});
