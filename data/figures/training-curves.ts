// A run's training curves from its log.jsonl (one JSON object per epoch, written by cli/train.js):
// train loss, test NME, learning rate and SepBN temperature by epoch, four charts in one image.
import { readFileSync } from 'node:fs';
import { drawText, GLYPH_HEIGHT } from './bitmap-font.ts';
import { paste } from './canvas.ts';
import { renderLineChart, type LineChart } from './plot.ts';
import { createRgbImage, type RgbImage } from '../rgb-image.ts';

export interface EpochRecord {
  epoch: number;
  lr: number;
  temperature: number;
  train_loss: number;
  /** A fraction (0.05 is 5 %). */
  test_nme: number;
}

const FIELDS = ['epoch', 'lr', 'temperature', 'train_loss', 'test_nme'] as const;

/** Reads a log.jsonl; a line that is not a JSON object with the numeric fields is an error naming it. */
export function readTrainingLog(file: string): EpochRecord[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((text, i) => ({ text: text.trim(), line: i + 1 }))
    .filter(({ text }) => text !== '')
    .map(({ text, line }) => {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(text) as Record<string, unknown>;
      } catch (err) {
        throw new Error(`${file}:${line}: not JSON (${(err as Error).message})`);
      }
      const missing = FIELDS.filter((f) => typeof record[f] !== 'number');
      if (missing.length > 0) throw new Error(`${file}:${line}: no numeric ${missing.join(', ')}`);
      return record as unknown as EpochRecord;
    });
}

const CHART_WIDTH = 640;
const CHART_HEIGHT = 420;

/** The values' extent widened by a tenth on each side, so points at the ends are not on the axes. */
function paddedRange(values: number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  const low = Math.min(...finite);
  const high = Math.max(...finite);
  const pad = high > low ? (high - low) / 10 : Math.abs(high) / 10 || 0.5;
  return finite.length > 0 ? [low - pad, high + pad] : [0, 1];
}

export function renderTrainingCurves(log: EpochRecord[], title: string): RgbImage {
  const epochs = log.map((r) => r.epoch);
  const chart = (chartTitle: string, yLabel: string, name: string, y: number[]): LineChart => ({
    title: chartTitle,
    xLabel: 'epoch',
    yLabel,
    series: [{ name, x: epochs, y, markers: true }],
    xRange: paddedRange(epochs),
    yRange: paddedRange(y),
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
  });
  const charts = [
    chart('Train loss', 'L1 loss (px)', 'train', log.map((r) => r.train_loss)),
    chart('Test NME', 'NME (%)', 'test', log.map((r) => 100 * r.test_nme)),
    chart('Learning rate', 'lr', 'lr', log.map((r) => r.lr)),
    chart('SepBN temperature', 'temperature', 'T', log.map((r) => r.temperature)),
  ].map(renderLineChart);
  const titleHeight = GLYPH_HEIGHT * 3 + 24;
  const image = createRgbImage(2 * CHART_WIDTH, titleHeight + 2 * CHART_HEIGHT);
  image.data.fill(255);
  drawText(image, 20, 12, title, [0, 0, 0], 3);
  charts.forEach((c, i) => paste(image, c, (i % 2) * CHART_WIDTH, titleHeight + Math.floor(i / 2) * CHART_HEIGHT));
  return image;
}
