// One training step and the epoch loop, independent of where batches come from. A step records
// forward, backward and the optimizer update into one submit; its loss is read back while the
// next step runs, so the GPU never waits for JavaScript.
import { backward, zeroGrad } from '../engine/autodiff.ts';
import { readScalarLater, startProfiling, stopProfiling, submitWork } from '../engine/backend.ts';
import type { KernelTiming } from '../engine/webgpu/profiler.ts';
import { tensor } from '../engine/create.ts';
import { l1Loss } from '../engine/ops/loss.ts';
import { scope } from '../engine/scope.ts';
import type { Optimizer } from '../nn/optim/optimizer.ts';
import type { LrSchedule } from '../nn/optim/schedule.ts';
import { INPUT_SIZE, LANDMARKS, type VanillaCnn } from './vanilla-cnn.ts';

export interface LandmarkBatch {
  /** [N, 3, 128, 128] normalised pixels. */
  images: Float32Array;
  /** [N, 196] x y interleaved, pixels of the 128 frame. */
  landmarks: Float32Array;
}

export function batchSizeOf(batch: LandmarkBatch): number {
  const n = batch.landmarks.length / (2 * LANDMARKS);
  if (!Number.isInteger(n) || batch.images.length !== n * 3 * INPUT_SIZE * INPUT_SIZE) {
    throw new Error(`batch of ${batch.images.length} pixel values and ${batch.landmarks.length} coordinates is not [N,3,128,128] with [N,196]`);
  }
  return n;
}

/** Records one step (forward, L1 loss, backward, update); resolves to its loss once it has run. */
export function trainStep(model: VanillaCnn, optimizer: Optimizer, batch: LandmarkBatch): Promise<number> {
  const n = batchSizeOf(batch);
  const loss = scope(() => {
    const images = tensor(batch.images, [n, 3, INPUT_SIZE, INPUT_SIZE], { label: 'images' });
    const target = tensor(batch.landmarks, [n, 2 * LANDMARKS], { label: 'landmarks' });
    const value = l1Loss(model.forward(images), target);
    backward(value);
    optimizer.step();
    zeroGrad(optimizer.params.map(([, p]) => p));
    return readScalarLater(value);
  });
  // Submit errors also reject the loss read, which the caller awaits.
  submitWork().catch(() => undefined);
  return loss;
}

export interface EpochReport {
  meanLoss: number;
  /** Sum and count of the step losses, so a resumed epoch can report the whole epoch's mean. */
  lossSum: number;
  lossCount: number;
  images: number;
  seconds: number;
  /** Batches done; less than the epoch's when `shouldStop` ended it early. */
  batches: number;
}

export interface EpochOptions {
  epoch: number;
  batchesPerEpoch: number;
  /** Batches of this epoch already done (a resumed run): they are drawn and skipped. */
  skipBatches?: number;
  schedule: LrSchedule;
  onStep?: (info: { batch: number; loss: number; lr: number; imagesPerSecond: number }) => void;
  /** Asked after each step; true ends the epoch there (Ctrl-C). */
  shouldStop?: () => boolean;
  /** Time this batch's step kernel by kernel (GPU timestamps) and hand over the timings. */
  profile?: { batch: number; onTimings: (timings: KernelTiming[]) => void };
}

export async function trainEpoch(model: VanillaCnn, optimizer: Optimizer, batches: AsyncIterable<LandmarkBatch>, options: EpochOptions): Promise<EpochReport> {
  model.train();
  const start = performance.now();
  let batchIndex = 0;
  let images = 0;
  let lossSum = 0;
  let counted = 0;
  let previous: { loss: Promise<number>; batch: number; lr: number } | undefined;
  const settle = async () => {
    if (!previous) return;
    const loss = await previous.loss;
    lossSum += loss;
    counted++;
    options.onStep?.({ batch: previous.batch, loss, lr: previous.lr, imagesPerSecond: images / ((performance.now() - start) / 1000) });
    previous = undefined;
  };
  for await (const batch of batches) {
    if (batchIndex < (options.skipBatches ?? 0)) {
      batchIndex++;
      continue;
    }
    optimizer.lr = options.schedule(options.epoch + batchIndex / options.batchesPerEpoch);
    const profiling = options.profile?.batch === batchIndex && startProfiling();
    const loss = trainStep(model, optimizer, batch);
    if (profiling) options.profile!.onTimings(await stopProfiling());
    images += batchSizeOf(batch);
    await settle(); // the previous step's loss, read while this step runs
    previous = { loss, batch: batchIndex, lr: optimizer.lr };
    batchIndex++;
    if (options.shouldStop?.()) break;
  }
  await settle();
  return { meanLoss: counted ? lossSum / counted : NaN, lossSum, lossCount: counted, images, seconds: (performance.now() - start) / 1000, batches: batchIndex };
}
