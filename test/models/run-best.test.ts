// best.safetensors follows the test NME, not the epoch: with a test score scripted to fall, rise
// and fall again, best holds the lowest epoch's weights and NME while last moves on, and a resumed
// run compares against the best its folder already holds. On the CPU backend at width 1/64.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '../../engine/backend.ts';
import { ensureSyntheticDataset } from '../../data/synthetic-dataset.ts';
import { wflwRunData } from '../../data/run-data.ts';
import { readRunCheckpoint, TrainingRun, type RunData, type RunSettings } from '../../models/run.ts';
import { readSafetensors } from '../../nn/safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'sepbn-run-best-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const prepared = ensureSyntheticDataset(dir, { train: 4, test: 2, size: 96, seed: 4 });
const files = { train: join(prepared, 'train.txt'), test: join(prepared, 'test.txt') };
const settings: RunSettings = { model: 'sepbn', width: 64, epochs: 3, batch: 2, maxBatches: 1, optimizer: 'adam', lr: 1e-3, weightDecay: 0, warmup: 1, seed: 1, data: prepared };
const out = join(dir, 'run');
const last = join(out, 'last.safetensors');
const best = join(out, 'best.safetensors');

/** The run's real batches, with its test NME (a fraction) taken from `nmes` epoch by epoch. */
function scripted(nmes: number[]) {
  return { out, openData: (s: RunSettings): RunData => ({ ...wflwRunData(files, s, 0), testNme: async () => nmes.shift()! }) };
}

/** The epoch, the recorded NME and one weight of a checkpoint. */
function checkpoint(file: string) {
  const { metadata, tensors } = readSafetensors(file);
  return { epoch: Number(metadata.epoch), nmePercent: Number(metadata.test_nme_percent), conv1: Array.from(tensors.get('conv1.weight')!.data as Float32Array) };
}

t.before(() => useBackend('cpu'));

t.test('best keeps the lowest epoch while last moves on', async (t) => {
  await TrainingRun.start(settings, scripted([0.5, 0.2, 0.3])).train();
  t.match(checkpoint(best), { epoch: 2, nmePercent: 20 }, 'best: epoch 2, the lowest');
  t.match(checkpoint(last), { epoch: 3, nmePercent: 30 }, 'last: epoch 3');
  t.notSame(checkpoint(best).conv1, checkpoint(last).conv1, "best holds epoch 2's weights, not epoch 3's");
});

t.test('a resumed run measures against the best already in its folder', async (t) => {
  const bestWeights = checkpoint(best).conv1;
  const worse = TrainingRun.resume({ ...readRunCheckpoint(last), settings: { ...settings, epochs: 4, scheduleEpochs: 4 } }, scripted([0.25]));
  t.equal(worse.bestNmePercent, 20, "the folder's best NME, read back");
  await worse.train();
  t.match(checkpoint(best), { epoch: 2, nmePercent: 20 }, 'an epoch worse than the best leaves it');
  t.same(checkpoint(best).conv1, bestWeights, 'its weights untouched');
  const better = TrainingRun.resume({ ...readRunCheckpoint(last), settings: { ...settings, epochs: 5, scheduleEpochs: 5 } }, scripted([0.1]));
  await better.train();
  t.match(checkpoint(best), { epoch: 5, nmePercent: 10 }, 'a better one replaces it');
  t.same(checkpoint(best).conv1, checkpoint(last).conv1, 'with the weights of that epoch');
});

t.test('a new run with --overwrite starts its best afresh', async (t) => {
  await TrainingRun.start({ ...settings, epochs: 1, warmup: 0 }, { ...scripted([0.9]), overwrite: true }).train();
  t.match(checkpoint(best), { epoch: 1, nmePercent: 90 }, "the old run's better best is gone");
});
