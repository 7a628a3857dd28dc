// WFLW evaluation: NME normalised by the outer-eye-corner distance (points 60 and 72), the failure
// rate FR@0.1 and the area under the cumulative error distribution AUC@0.1.
import { LANDMARK_COUNT, wflwTopology } from './topology.ts';

/** Distance between the two interocular points of one face (x y interleaved landmarks at `offset`). */
export function interocularDistance(landmarksPx: ArrayLike<number>, offset = 0): number {
  const [a, b] = wflwTopology().interocular;
  return Math.hypot(landmarksPx[offset + 2 * a] - landmarksPx[offset + 2 * b], landmarksPx[offset + 2 * a + 1] - landmarksPx[offset + 2 * b + 1]);
}

/**
 * Per-image NME: mean point-to-point distance between prediction and ground truth over the 98 points,
 * divided by the ground truth's interocular distance. Both arrays are [N, 196], x y interleaved.
 */
export function nmePerImage(predictedPx: ArrayLike<number>, targetPx: ArrayLike<number>): Float64Array {
  const values = 2 * LANDMARK_COUNT;
  if (predictedPx.length !== targetPx.length || targetPx.length % values !== 0) {
    throw new Error(`nmePerImage: expected two [N, ${values}] arrays of equal length, got ${predictedPx.length} and ${targetPx.length}`);
  }
  const n = targetPx.length / values;
  const nmes = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const offset = i * values;
    let sum = 0;
    for (let p = 0; p < LANDMARK_COUNT; p++) {
      sum += Math.hypot(predictedPx[offset + 2 * p] - targetPx[offset + 2 * p], predictedPx[offset + 2 * p + 1] - targetPx[offset + 2 * p + 1]);
    }
    const normaliser = interocularDistance(targetPx, offset);
    if (!(normaliser > 0)) throw new Error(`nmePerImage: face ${i} has coincident interocular points, NME is undefined`);
    // A NaN or infinite coordinate is a prediction infinitely wrong: it must fail FR and the CED, never drop out of them.
    nmes[i] = Number.isFinite(sum) ? sum / LANDMARK_COUNT / normaliser : Infinity;
  }
  return nmes;
}

/** The mean; Infinity as soon as one face's NME is (see summarizeNme). */
export function meanNme(nmes: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < nmes.length; i++) sum += nmes[i];
  return nmes.length > 0 ? sum / nmes.length : NaN;
}

/** Share of images whose NME exceeds the threshold, or is NaN. */
export function failureRate(nmes: ArrayLike<number>, threshold = 0.1): number {
  let failures = 0;
  for (let i = 0; i < nmes.length; i++) if (!(nmes[i] <= threshold)) failures++;
  return nmes.length > 0 ? failures / nmes.length : NaN;
}

/** The CED curve: at each x in 0, step, 2 step, ..., threshold, the share of images with NME <= x. */
export function cedCurve(nmes: ArrayLike<number>, threshold = 0.1, step = 1e-4): { x: Float64Array; y: Float64Array } {
  const points = Math.round(threshold / step) + 1;
  const sorted = Float64Array.from(nmes).sort();
  const x = new Float64Array(points);
  const y = new Float64Array(points);
  let below = 0;
  for (let k = 0; k < points; k++) {
    x[k] = k * step;
    while (below < sorted.length && sorted[below] <= x[k]) below++;
    y[k] = sorted.length > 0 ? below / sorted.length : NaN;
  }
  return { x, y };
}

/** AUC@threshold: the CED curve integrated with Simpson's rule over [0, threshold], divided by threshold. */
export function aucCed(nmes: ArrayLike<number>, threshold = 0.1, step = 1e-4): number {
  const { x, y } = cedCurve(nmes, threshold, step);
  return simpson(y, x[1] - x[0]) / threshold;
}

/**
 * Composite Simpson's rule over equally spaced samples. With an odd number of intervals the last one
 * is closed by a trapezoid, so any sample count of 2 or more works.
 */
export function simpson(y: ArrayLike<number>, h: number): number {
  const intervals = y.length - 1;
  if (intervals < 1) return 0;
  const even = intervals - (intervals % 2);
  let sum = 0;
  for (let k = 0; k < even; k += 2) sum += (h / 3) * (y[k] + 4 * y[k + 1] + y[k + 2]);
  if (even < intervals) sum += (h / 2) * (y[intervals - 1] + y[intervals]);
  return sum;
}

export interface NmeSummary {
  count: number;
  /**
   * Mean NME over all faces: Infinity when any face's is, so that anything reading only this number
   * (the training log, a script comparing runs) can never rank a network with broken predictions
   * above one without.
   */
  nme: number;
  /** Faces whose NME is not finite (a NaN or infinite predicted coordinate). */
  nonFinite: number;
  /** Mean NME over the faces whose NME is finite, for the person reading the report; NaN when none is. */
  finiteNme: number;
  failureRate: number;
  auc: number;
}

/** NME, FR and AUC of one set (a whole test set or one subset) at the given threshold. */
export function summarizeNme(nmes: ArrayLike<number>, threshold = 0.1): NmeSummary {
  const finite = Array.from(nmes).filter(Number.isFinite);
  return {
    count: nmes.length,
    nme: meanNme(nmes),
    nonFinite: nmes.length - finite.length,
    finiteNme: meanNme(finite),
    failureRate: failureRate(nmes, threshold),
    auc: aucCed(nmes, threshold),
  };
}
