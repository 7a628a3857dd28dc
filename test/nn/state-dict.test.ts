import t from 'tap';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '../../engine/backend.ts';
import { buildModel, modelConfig } from '../../models/registry.ts';
import { Counter } from '../../nn/module.ts';
import { readSafetensors, writeSafetensors } from '../../nn/safetensors.ts';
import { loadStateDict, saveStateDict } from '../../nn/state-dict.ts';

const dir = mkdtempSync(join(tmpdir(), 'sepbn-state-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('SepBN state-dict names and shapes follow the reference', async (t) => {
  await useBackend('cpu');
  const model = buildModel(modelConfig('sepbn', 16));
  const shapes = new Map(model.stateDict().map(([n, v]) => [n, v instanceof Counter ? 'count' : v.shape.join('x')]));
  t.equal(shapes.get('conv1.weight'), '4x3x3x3');
  t.equal(shapes.get('bn1.bn.0.weight'), '4');
  t.equal(shapes.get('bn1.bn.2.running_var'), '4');
  t.equal(shapes.get('bn1.bn.1.num_batches_tracked'), 'count');
  t.equal(shapes.get('bn6.fc1.weight'), '12x128x1x1', 'H = int(0.1 * 128)');
  t.equal(shapes.get('bn1.fc1.weight'), '1x4x1x1', 'H is at least 1');
  t.equal(shapes.get('bn6.fc2.weight'), '3x12x1x1');
  t.equal(shapes.get('fc1.weight'), '128x512');
  t.equal(shapes.get('fc2.bias'), '196');
  t.notOk([...shapes.keys()].some((n) => n.startsWith('bn1.fc1.bias')), 'the attention convolutions have no bias');
});

t.test('a checkpoint round-trips, and bad files are refused by name', async (t) => {
  await useBackend('cpu');
  const a = buildModel(modelConfig('sepbn', 16, 1));
  a.norms[0].stateDict().forEach(([, v]) => v instanceof Counter && (v.value = 7));
  const file = join(dir, 'a.safetensors');
  await saveStateDict(file, a, { note: 'test' });
  t.same(readdirSync(dir), ['a.safetensors'], 'no temporary file left behind');
  const { tensors, metadata } = readSafetensors(file);
  t.equal(metadata.note, 'test');
  t.equal(tensors.get('bn1.bn.0.num_batches_tracked')!.dtype, 'I64');
  t.equal(tensors.get('conv1.weight')!.dtype, 'F32');

  const b = buildModel(modelConfig('sepbn', 16, 2));
  loadStateDict(file, b);
  const av = await a.namedParameters()[0][1].toArray();
  const bv = await b.namedParameters()[0][1].toArray();
  t.same(Array.from(bv), Array.from(av, (v) => Math.fround(v)));
  t.equal((b.stateDict().find(([n]) => n === 'bn1.bn.0.num_batches_tracked')![1] as Counter).value, 7);

  const narrower = buildModel(modelConfig('sepbn', 32));
  t.throws(() => loadStateDict(file, narrower), /mis-shaped \d+: conv1\.weight: file \[4,3,3,3\], model \[2,3,3,3\]/);
  const baseline = buildModel(modelConfig('baseline', 16));
  t.throws(() => loadStateDict(file, baseline), /extra \d+: bn1\.bn\.0\.weight/);

  const truncated = join(dir, 'truncated.safetensors');
  writeFileSync(truncated, readFileSync(file).subarray(0, 2000));
  t.throws(() => loadStateDict(truncated, b), /truncated\.safetensors: not a readable safetensors file/);
  const garbage = join(dir, 'garbage.safetensors');
  writeFileSync(garbage, 'not a checkpoint at all');
  t.throws(() => loadStateDict(garbage, b), /garbage\.safetensors: not a readable safetensors file/);
});

t.test('a tensor whose dtype does not fit its slot is refused by name, file, dtype found and dtype wanted', async (t) => {
  await useBackend('cpu');
  const model = buildModel(modelConfig('sepbn', 64, 1));
  const file = join(dir, 'dtypes.safetensors');
  await saveStateDict(file, model);
  const { tensors } = readSafetensors(file);
  const conv = tensors.get('conv1.weight')!;
  const floats = conv.data as Float32Array;
  // The same bytes labelled I32: read as integers they would be weights of about 1e9.
  tensors.set('conv1.weight', { ...conv, dtype: 'I32', data: new Int32Array(floats.buffer, floats.byteOffset, floats.length) });
  tensors.set('bn2.bn.1.num_batches_tracked', { dtype: 'F64', shape: [], data: Float64Array.of(3) });
  const relabelled = join(dir, 'relabelled.safetensors');
  writeSafetensors(relabelled, [...tensors]);
  t.throws(() => loadStateDict(relabelled, model), {
    message: `${relabelled} does not match the model (wrong dtype 2: conv1.weight: file I32, model floats (F32, F64, F16); bn2.bn.1.num_batches_tracked: file F64, model an integer count (I64, I32, U8)). Is it a checkpoint of this model and width?`,
  });
  // F64 and F16 weights and an I32 count are other ways of holding the same values, and load.
  tensors.set('conv1.weight', { ...conv, dtype: 'F64', data: Float64Array.from(floats) });
  tensors.set('bn2.bn.1.num_batches_tracked', { dtype: 'I32', shape: [], data: Int32Array.of(3) });
  writeSafetensors(relabelled, [...tensors]);
  loadStateDict(relabelled, model);
  t.equal((model.stateDict().find(([n]) => n === 'bn2.bn.1.num_batches_tracked')![1] as Counter).value, 3);
});

t.test('another network\'s state dict is named as such, with a few names and counts', async (t) => {
  await useBackend('cpu');
  const file = join(dir, 'baseline.safetensors');
  await saveStateDict(file, buildModel(modelConfig('baseline', 64)));
  const error = t.throws(() => loadStateDict(file, buildModel(modelConfig('sepbn', 64)))) as Error;
  t.equal(error.message, `${file} is a baseline checkpoint, you asked for sepbn (missing 102: bn1.bn.0.weight, bn1.bn.0.bias, bn1.bn.0.running_mean and 99 more)`);
  t.throws(() => loadStateDict(file, buildModel(modelConfig('bn', 32))), { message: new RegExp(`^${file} is a baseline checkpoint of width 1/64, you asked for bn of width 1/32 \\(missing 30: bn1\\.weight, bn1\\.bias, bn1\\.running_mean and 27 more \\| mis-shaped 15: conv1\\.weight: file \\[1,3,3,3\\], model \\[2,3,3,3\\]; `) });
});
