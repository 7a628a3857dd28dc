// Learning-rate schedules and the SepBN attention temperature: pure functions of training
// progress. The train loop sets optimizer.lr = schedule(epoch + batch / batches) before every
// step, so the rate moves smoothly within an epoch rather than in one jump per epoch.

/** Learning rate as a function of fractional epochs done (epoch + batch / batches). */
export type LrSchedule = (epochProgress: number) => number;

export interface WarmupCosineOptions {
  baseLr: number;
  warmupEpochs: number;
  totalEpochs: number;
  /** Where the warm-up starts and the cosine ends; default 1e-10 (never exactly 0). */
  floor?: number;
}

/**
 * Linear warm-up from `floor` to baseLr over warmupEpochs, then half a cosine from baseLr down to
 * `floor` at totalEpochs; `floor` after that.
 */
export function warmupCosine({ baseLr, warmupEpochs, totalEpochs, floor = 1e-10 }: WarmupCosineOptions): LrSchedule {
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
 * one less each epoch, never below 1.
 */
export function sepBnTemperature(epoch: number, start = 30): number {
  return Math.max(1, start - epoch);
}
