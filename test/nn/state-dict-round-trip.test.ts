// A SepBN checkpoint round trip after a real training step, so every weight, running statistic and
// counter holds a value a fresh model does not: saved with models/checkpoint.ts, loaded into a model
// built from a different seed, every entry of the state dict must come back bit for bit, and the
// two models must then predict the same landmarks in eval mode.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assignValues } from '../../engine/assign.ts';
import { tensor } from '../../engine/create.ts';
import { Random } from '../../engine/random.ts';
import { scope } from '../../engine/scope.ts';
import { noGrad } from '../../engine/tensor.ts';
import { readCheckpointInfo, restoreCheckpoint, saveCheckpoint } from '../../models/checkpoint.ts';
import { buildModel, modelConfig } from '../../models/registry.ts';
import { trainStep } from '../../models/trainer.ts';
import type { VanillaCnn } from '../../models/vanilla-cnn.ts';
import { Counter } from '../../nn/module.ts';
import { createOptimizer } from '../../nn/optim/optimizer.ts';
import { readSafetensors } from '../../nn/safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'sepbn-round-trip-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const N = 2;
const rng = new Random(5);
const images = Float32Array.from({ length: N * 3 * 128 * 128 }, () => rng.normal());
const landmarks = Float32Array.from({ length: N * 196 }, () => rng.uniform(0, 128));

/** Every state-dict entry as plain numbers: F32 values for tensors, the integer for counters. */
async function stateValues(model: VanillaCnn): Promise<Map<string, number[] | number>> {
  const values = new Map<string, number[] | number>();
  for (const [name, slot] of model.stateDict()) values.set(name, slot instanceof Counter ? slot.value : Array.from(await slot.toArray()));
  return values;
}

function predict(model: VanillaCnn): Promise<Float64Array> {
  model.eval();
  return scope(() => noGrad(() => model.forward(tensor(images, [N, 3, 128, 128])).toArray())) as Promise<Float64Array>;
}

t.test('a trained SepBN model round-trips through a checkpoint exactly', async (t) => {
  const trained = buildModel(modelConfig('sepbn', 16, 3));
  trained.temperature = 7;
  const loss = await trainStep(trained, createOptimizer('adam', trained.namedParameters(), { lr: 1e-2 }), { images, landmarks });
  // The CPU backend holds Float64 and the file F32: round the trained model to F32 first, so that
  // "exactly" means bit for bit rather than "to F32 rounding".
  for (const [, slot] of trained.stateDict()) if (!(slot instanceof Counter)) assignValues(slot, Float32Array.from(await slot.toArray()));

  const file = join(dir, 'trained.safetensors');
  await saveCheckpoint(file, trained, undefined, { epoch: 0, batchInEpoch: 1, step: 1, temperature: 7, epochLoss: { sum: loss, count: 1 }, run: {} });
  const info = readCheckpointInfo(file);
  t.same(info.config, trained.config, 'the configuration comes back from the metadata');
  t.equal(info.state.temperature, 7, 'and the temperature');

  const loaded = buildModel({ ...info.config, seed: info.config.seed + 1 });
  const expected = await stateValues(trained);
  const before = await stateValues(loaded);
  t.notSame(before.get('conv1.weight'), expected.get('conv1.weight'), 'the fresh model starts from other weights');
  t.same(expected.get('bn3.bn.1.num_batches_tracked'), 1, 'the step counted one batch');
  t.notOk((expected.get('bn3.bn.1.running_mean') as number[]).every((v) => v === 0), 'running means moved from 0');
  t.notOk((expected.get('bn3.bn.1.running_var') as number[]).every((v) => v === 1), 'running variances moved from 1');

  restoreCheckpoint(file, loaded);
  loaded.temperature = info.state.temperature;
  const after = await stateValues(loaded);
  t.same([...after.keys()], [...expected.keys()], 'the same names in the same order');
  const differing = [...expected].filter(([name, value]) => {
    const got = after.get(name)!;
    return typeof value === 'number' ? !(Number.isInteger(got) && got === value) : !(value as number[]).every((v, i) => Object.is(v, (got as number[])[i]));
  });
  t.same(differing.map(([name]) => name), [], `all ${expected.size} entries equal bit for bit`);

  const counters = [...readSafetensors(file).tensors].filter(([name]) => name.endsWith('num_batches_tracked'));
  t.equal(counters.length, 18, 'six SepBN layers of three sets, one counter each');
  t.ok(counters.every(([, c]) => c.dtype === 'I64' && c.data[0] === 1n), 'each stored as the I64 integer 1');

  const original = await predict(trained);
  const reloaded = await predict(loaded);
  t.ok(original.every((v, i) => Object.is(v, reloaded[i])), 'eval-mode predictions are identical');
});
