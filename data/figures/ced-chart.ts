// The cumulative error distribution of one or more NME sets as a line chart.
import { cedCurve } from '../metrics.ts';
import type { LineChart } from './plot.ts';

export interface NmeSet {
  name: string;
  nmes: ArrayLike<number>;
}

/** CED curves on [0, threshold], the legend naming each set with its AUC. */
export function cedChart(sets: NmeSet[], threshold = 0.1, title = 'Cumulative error distribution'): LineChart {
  return {
    title,
    xLabel: 'NME (inter-ocular)',
    yLabel: 'Share of images',
    xRange: [0, threshold],
    yRange: [0, 1],
    series: sets.map(({ name, nmes }) => ({ name, ...cedCurve(nmes, threshold) })),
  };
}
