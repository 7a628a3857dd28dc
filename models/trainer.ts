// One training step and the epoch loop, independent of where batches come from. A step records
// forward, backward and the optimizer update into one submit; its loss is read back while the
// next step runs, so the GPU never waits for JavaScript.
import { backward, zeroGrad } from '../engine/autodiff.ts';
import { readScalarLater, startProfiling, stopProfiling, submitWork } from '../engine/backend.ts';
import type { KernelTiming } from '../engine/webgpu/profiler.ts';
import { tensor } from '../engine/create.ts';
import { add } from '../engine/ops/arith.ts';
import { l1Loss } from '../engine/ops/loss.ts';
import { sum } from '../engine/ops/reduce.ts';
import { scope } from '../engine/scope.ts';
import { noGrad, Tensor } from '../engine/tensor.ts';
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

/**
 * A step loss above this many pixels (the mean landmark error on a 128-pixel input) means the weights
 * are running away, as Adam's do at a huge learning rate, long before they overflow to Infinity.
 */
export const DIVERGED_LOSS_PX = 1e6;

/** Training has diverged (a non-finite or runaway loss, or non-finite weights); the weights in memory are not worth saving. */
export class DivergenceError extends Error {
  constructor(
    /** Counted from 1, as the progress line shows it. */
    readonly epoch: number,
    /** The step within the epoch, counted from 1. */
    readonly step: number,
    readonly lr: number,
    what: string,
  ) {
    super(
      `training diverged in epoch ${epoch}, step ${step}, at learning rate ${lr.toPrecision(3)}: ${what}. ` +
        'Try a lower --lr (or a longer --warmup); to find the first op that makes a NaN or Infinity, run again with SEPBN_CHECK_NAN=1. ' +
        'The checkpoint of the last good epoch, if any, is left as it was.',
    );
    this.name = 'DivergenceError';
  }
}

/**
 * Resolves to the sum of every tensor the model would save (parameters and running statistics):
 * finite exactly when they all are, short of a sum past 3e38 that only runaway weights reach.
 */
function stateSum(model: VanillaCnn): Promise<number> {
  const total = scope(() =>
    noGrad(() => {
      const sums = model.stateDict().flatMap(([, t]) => (t instanceof Tensor ? [sum(t)] : []));
      return readScalarLater(sums.reduce((a, b) => add(a, b)));
    }),
  );
  // Submit errors also reject the read, which the caller awaits.
  submitWork().catch(() => undefined);
  return total;
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
  // Steps submitted whose loss is not read yet: the previous one is read while the next one runs.
  const inFlight: Array<{ loss: Promise<number>; batch: number; lr: number }> = [];
  const settleOldest = async () => {
    const step = inFlight.shift()!;
    const loss = await step.loss;
    // Negated so that NaN fails it too.
    if (!(loss <= DIVERGED_LOSS_PX)) {
      const what = Number.isFinite(loss) ? `the loss is ${loss.toPrecision(3)} pixels, past the ${DIVERGED_LOSS_PX} that only runaway weights reach` : `the loss is ${loss}`;
      throw new DivergenceError(options.epoch + 1, step.batch + 1, step.lr, what);
    }
    lossSum += loss;
    counted++;
    options.onStep?.({ batch: step.batch, loss, lr: step.lr, imagesPerSecond: images / ((performance.now() - start) / 1000) });
  };
  try {
    for await (const batch of batches) {
      if (batchIndex < (options.skipBatches ?? 0)) {
        batchIndex++;
        continue;
      }
      optimizer.lr = options.schedule(options.epoch + batchIndex / options.batchesPerEpoch);
      const profiling = options.profile?.batch === batchIndex && startProfiling();
      inFlight.push({ loss: trainStep(model, optimizer, batch), batch: batchIndex, lr: optimizer.lr });
      if (profiling) options.profile!.onTimings(await stopProfiling());
      images += batchSizeOf(batch);
      if (inFlight.length > 1) await settleOldest();
      batchIndex++;
      if (options.shouldStop?.()) break;
    }
    while (inFlight.length > 0) await settleOldest();
  } catch (err) {
    // A step left in flight would otherwise reject once the caller destroys the device on the way
    // out (an unhandled AbortError printed after the real message): let it finish first.
    await Promise.allSettled(inFlight.map((step) => step.loss));
    throw err;
  }
  // A finite last loss says nothing of the update after it; the caller saves these weights next.
  if (counted > 0) {
    const total = await stateSum(model);
    if (!Number.isFinite(total)) throw new DivergenceError(options.epoch + 1, batchIndex, optimizer.lr, `the last update made the weights non-finite (their sum is ${total})`);
  }
  return { meanLoss: counted ? lossSum / counted : NaN, lossSum, lossCount: counted, images, seconds: (performance.now() - start) / 1000, batches: batchIndex };
}
