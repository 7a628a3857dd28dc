// The cumulative error distribution of one or more NME sets as a line chart, NME in percent as
// every command prints it. A set with nothing below the threshold draws no curve (it lies on the
// x axis), so the chart says why instead of looking empty.
import { cedCurve } from '../metrics.ts';
import type { LineChart } from './plot.ts';

export interface NmeSet {
  name: string;
  /** Fractions of the inter-ocular distance, as data/metrics.ts computes them. */
  nmes: ArrayLike<number>;
}

/** A CED chart's title: what was scored (checkpoints, or a predictions file) and on which faces. */
export function cedTitle(scored: string[], data: string): string {
  return `CED of ${scored.join(' vs ')} on ${data}`;
}

/** Why a set draws no curve at or below `threshold`, or undefined when it draws one. */
export function emptyCurveReason({ nmes }: NmeSet, threshold: number): string | undefined {
  if (nmes.length === 0) return 'no faces';
  let finite = 0;
  let within = 0;
  for (let i = 0; i < nmes.length; i++) {
    if (Number.isFinite(nmes[i])) finite++;
    if (nmes[i] <= threshold) within++;
  }
  if (within > 0) return undefined;
  return finite === 0 ? `all ${nmes.length} predictions non-finite` : `every face's NME above ${100 * threshold} %`;
}

/** CED curves on [0, threshold], x in percent; a set without a curve is named with the reason, and a chart without any says so. */
export function cedChart(sets: NmeSet[], threshold = 0.1, title = 'Cumulative error distribution'): LineChart {
  const reasons = sets.map((s) => emptyCurveReason(s, threshold));
  const series = sets.map((s, k) => {
    const { x, y } = cedCurve(s.nmes, threshold);
    return { name: reasons[k] ? `${s.name} (no curve: ${reasons[k]})` : s.name, x: x.map((v) => 100 * v), y };
  });
  const why = sets.length === 0 ? 'no sets were scored' : sets.length === 1 ? reasons[0] : sets.map((s, k) => `${s.name}, ${reasons[k]}`).join('; ');
  const note = reasons.every(Boolean) ? `No curve to draw: ${why}` : undefined;
  return {
    title,
    xLabel: 'NME (% of the inter-ocular distance)',
    yLabel: 'Share of images',
    xRange: [0, 100 * threshold],
    yRange: [0, 1],
    series,
    ...(note ? { note } : {}),
  };
}
