// A diverging run stops with a DivergenceError naming the epoch, step and learning rate: a runaway or
// NaN step loss, or weights made non-finite by an epoch's last update. Through models/run.ts the
// checkpoint of the last good epoch is left as it was. On the CPU backend: width 64 steps take
// milliseconds there, and divergence is the same arithmetic on either backend.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModel, modelConfig } from '../../models/registry.ts';
import { TrainingRun, type RunData, type RunSettings } from '../../models/run.ts';
import { DivergenceError, trainEpoch, type LandmarkBatch } from '../../models/trainer.ts';
import { createOptimizer } from '../../nn/optim/optimizer.ts';

const IMAGE_VALUES = 3 * 128 * 128;
const LANDMARK_VALUES = 196;

/** A batch of two faces: small pixel values, landmarks around the middle of the frame (or all `landmarks` when given). */
function batch(seed: number, landmarks?: number): LandmarkBatch {
  const images = Float32Array.from({ length: 2 * IMAGE_VALUES }, (_, i) => Math.sin(seed * 7919 + i) * 0.5);
  return { images, landmarks: Float32Array.from({ length: 2 * LANDMARK_VALUES }, (_, i) => landmarks ?? 64 + 20 * Math.cos(seed + i)) };
}

async function* batches(list: LandmarkBatch[]): AsyncGenerator<LandmarkBatch> {
  yield* list;
}

function setup(optimizer: 'sgd' | 'adam') {
  const model = buildModel(modelConfig('sepbn', 64, 1));
  return { model, optimizer: createOptimizer(optimizer, model.namedParameters(), { lr: 1 }) };
}

async function divergence(run: Promise<unknown>): Promise<DivergenceError> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof DivergenceError)) throw new Error(`expected a DivergenceError, got ${String(err)}`);
  return err;
}

for (const kind of ['sgd', 'adam'] as const) {
  t.test(`${kind} at lr 1e6: the runaway loss stops the epoch at the step that shows it`, async (t) => {
    const { model, optimizer } = setup(kind);
    const steps: number[] = [];
    const err = await divergence(
      trainEpoch(model, optimizer, batches([batch(1), batch(2), batch(3), batch(4)]), {
        epoch: 2,
        batchesPerEpoch: 4,
        schedule: () => 1e6,
        onStep: ({ batch }) => steps.push(batch),
      }),
    );
    t.equal(err.epoch, 3, 'the epoch, counted from 1');
    t.equal(err.step, 2, 'the first step after the first update');
    t.equal(err.lr, 1e6);
    t.same(steps, [0], 'no step past the divergence is reported as a step');
    t.match(err.message, /epoch 3, step 2, at learning rate 1\.00e\+6: the loss is .*lower --lr.*SEPBN_CHECK_NAN=1/);
  });
}

t.test('a NaN loss stops the epoch', async (t) => {
  const { model, optimizer } = setup('adam');
  const err = await divergence(trainEpoch(model, optimizer, batches([batch(1), batch(2, NaN)]), { epoch: 0, batchesPerEpoch: 2, schedule: () => 1e-3 }));
  t.equal(err.step, 2);
  t.match(err.message, /the loss is NaN/);
});

t.test("an epoch whose last update makes the weights non-finite fails, though every loss was finite", async (t) => {
  const { model, optimizer } = setup('sgd');
  const err = await divergence(trainEpoch(model, optimizer, batches([batch(1)]), { epoch: 0, batchesPerEpoch: 1, schedule: () => Infinity }));
  t.equal(err.step, 1);
  t.match(err.message, /the last update made the weights non-finite/);
});

t.test('a run that diverges in epoch 2 keeps the checkpoint of epoch 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sepbn-divergence-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const settings: RunSettings = { model: 'sepbn', width: 64, epochs: 3, batch: 2, maxBatches: 2, optimizer: 'adam', lr: 1e-3, weightDecay: 0, warmup: 1, seed: 1, data: null };
  // Epoch 2's second batch has NaN landmarks, as a corrupt annotation would.
  const data: RunData = {
    epoch: (epoch) => batches([batch(10 * epoch), batch(10 * epoch + 1, epoch === 1 ? NaN : undefined)]),
    batchesPerEpoch: 2,
    describe: 'two faces',
    testNme: async () => 0.5,
    close: async () => undefined,
  };
  const run = TrainingRun.start(settings, { out: dir, openData: () => data });
  let epoch1: Buffer | undefined;
  const err = await divergence(run.train({ onEpochEnd: ({ epoch }) => void (epoch === 1 && (epoch1 = readFileSync(run.checkpointFile))) }));
  t.equal(err.epoch, 2);
  t.ok(epoch1, 'epoch 1 was saved');
  t.ok(readFileSync(run.checkpointFile).equals(epoch1!), 'the checkpoint is still the one of epoch 1');
  t.equal(readFileSync(run.logFile, 'utf8').trim().split('\n').length, 1, 'one log line: epoch 1');
});

t.test('an epoch after which the network predicts NaN or Infinity stops the run, naming epoch, step and rate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sepbn-divergence-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const settings: RunSettings = { model: 'sepbn', width: 64, epochs: 3, batch: 2, maxBatches: 2, optimizer: 'adam', lr: 1e-3, weightDecay: 0, warmup: 1, seed: 1, data: null };
  // Finite losses and weights throughout; the test score of epoch 2 is infinite, as when an activation overflows.
  let scored = 0;
  const data: RunData = {
    epoch: (epoch) => batches([batch(10 * epoch), batch(10 * epoch + 1)]),
    batchesPerEpoch: 2,
    describe: 'two faces',
    testNme: async () => (++scored === 2 ? Infinity : 0.5),
    close: async () => undefined,
  };
  const run = TrainingRun.start(settings, { out: dir, openData: () => data });
  let epoch1: Buffer | undefined;
  const err = await divergence(run.train({ onEpochEnd: ({ epoch }) => void (epoch === 1 && (epoch1 = readFileSync(run.checkpointFile))) }));
  t.same([err.epoch, err.step], [2, 2], 'the last step of epoch 2');
  t.match(err.message, /^training diverged in epoch 2, step 2, at learning rate \S+: .*predicts NaN or Infinity on test faces/);
  t.ok(readFileSync(run.checkpointFile).equals(epoch1!), 'the checkpoint is still the one of epoch 1');
  t.equal(readFileSync(run.logFile, 'utf8').trim().split('\n').length, 1, 'one log line: epoch 1');
});
