import t from 'tap';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '../../engine/backend.ts';
import { buildModel, modelConfig } from '../../models/registry.ts';
import { Counter } from '../../nn/module.ts';
import { readSafetensors } from '../../nn/safetensors.ts';
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
