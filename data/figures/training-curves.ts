// A run's training curves from its log.jsonl (one JSON object per epoch, written by cli/train.js):
// train loss, test NME, learning rate and, for a network with SepBN layers, their attention
// temperature by epoch, one chart each in one image.
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
  /** In percent (5 is 5 %); Infinity where the log holds null (a network with non-finite predictions). */
  test_nme_percent: number;
}

const FIELDS = ['epoch', 'lr', 'temperature', 'train_loss'] as const;

/** The test NME of a line in percent: test_nme_percent, or the fraction test_nme of logs written before the log named its units. */
function nmePercent(record: Record<string, unknown>): number | undefined {
  const percent = record.test_nme_percent;
  if (typeof percent === 'number') return percent;
  // JSON has no Infinity: JSON.stringify wrote an infinite NME as null.
  if (percent === null) return Infinity;
  return typeof record.test_nme === 'number' ? 100 * record.test_nme : undefined;
}

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
      const testNmePercent = nmePercent(record);
      const missing = [...FIELDS.filter((f) => typeof record[f] !== 'number'), ...(testNmePercent === undefined ? ['test_nme_percent'] : [])];
      if (missing.length > 0) throw new Error(`${file}:${line}: no numeric ${missing.join(', ')}`);
      return { epoch: record.epoch, lr: record.lr, temperature: record.temperature, train_loss: record.train_loss, test_nme_percent: testNmePercent } as EpochRecord;
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

/** `sepBn`: the network has SepBN layers, whose attention temperature gets a chart; other networks have no temperature. */
export function renderTrainingCurves(log: EpochRecord[], title: string, sepBn: boolean): RgbImage {
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
    chart('Test NME', 'NME (%)', 'test', log.map((r) => r.test_nme_percent)),
    chart('Learning rate (last step of each epoch)', 'lr', 'lr', log.map((r) => r.lr)),
    ...(sepBn ? [chart('SepBN temperature', 'temperature', 'T', log.map((r) => r.temperature))] : []),
  ].map(renderLineChart);
  const titleHeight = GLYPH_HEIGHT * 3 + 24;
  // Three charts in a row, four in two rows: no empty cell either way.
  const columns = charts.length === 4 ? 2 : charts.length;
  const image = createRgbImage(columns * CHART_WIDTH, titleHeight + Math.ceil(charts.length / columns) * CHART_HEIGHT);
  image.data.fill(255);
  drawText(image, 20, 12, title, [0, 0, 0], 3);
  charts.forEach((c, i) => paste(image, c, (i % columns) * CHART_WIDTH, titleHeight + Math.floor(i / columns) * CHART_HEIGHT));
  return image;
}
