// Learning-rate schedules and the SepBN attention temperature: pure functions of training
// progress. The train loop sets optimizer.lr = schedule(epoch + batch / batches) before every
// step, so the rate moves smoothly within an epoch rather than in one jump per epoch.

/** Learning rate as a function of fractional epochs done (epoch + batch / batches). */
export type LrSchedule = (epochProgress: number) => number;

/** Where the warm-up starts and the cosine ends unless told otherwise: the reference code's 1e-10, never exactly 0. */
export const LR_FLOOR = 1e-10;

export interface WarmupCosineOptions {
  baseLr: number;
  warmupEpochs: number;
  totalEpochs: number;
  /** Where the warm-up starts and the cosine ends; default LR_FLOOR. */
  floor?: number;
}

/**
 * Linear warm-up from `floor` to baseLr over warmupEpochs, then half a cosine from baseLr down to
 * `floor` at totalEpochs; `floor` after that.
 */
export function warmupCosine({ baseLr, warmupEpochs, totalEpochs, floor = LR_FLOOR }: WarmupCosineOptions): LrSchedule {
  if (!(warmupEpochs >= 0 && totalEpochs > warmupEpochs)) {
    throw new Error(`warmupCosine: needs 0 <= warmupEpochs < totalEpochs, got warmupEpochs ${warmupEpochs}, totalEpochs ${totalEpochs}`);
  }
  if (!(baseLr >= floor && floor >= 0)) throw new Error(`warmupCosine: needs 0 <= floor <= baseLr, got floor ${floor}, baseLr ${baseLr}`);
  const range = baseLr - floor;
  return (epochProgress) => {
    if (epochProgress < warmupEpochs) return floor + (range * Math.max(0, epochProgress)) / warmupEpochs;
    if (epochProgress >= totalEpochs) return floor;
    const cosineProgress = (epochProgress - warmupEpochs) / (totalEpochs - warmupEpochs);
    return floor + range * 0.5 * (1 + Math.cos(Math.PI * cosineProgress));
  };
}

export function constant(baseLr: number): LrSchedule {
  return () => baseLr;
}

/**
 * The softmax temperature of SepBN's attention at a (whole, 0-based) epoch: `start` at epoch 0,
 * `step` less each epoch, never below `end` (the paper's: 30, one less each epoch, down to 1).
 */
export function sepBnTemperature(epoch: number, start = 30, end = 1, step = 1): number {
  return Math.max(end, start - step * epoch);
}
