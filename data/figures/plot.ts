// Line charts as PNG: several named series, axes with ticks and labels, a legend. Used for the CED
// curves of the test command and for training curves.
import { drawText, GLYPH_HEIGHT, textWidth } from './bitmap-font.ts';
import { encodePng } from '../image-io.ts';
import { writeFileAtomic } from '../../nn/write-file-atomic.ts';
import { fillEllipse, fillPolygon, strokePolyline, type Colour } from './raster.ts';
import { createRgbImage, type RgbImage } from '../rgb-image.ts';

export interface Series {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  colour?: Colour;
  /** Also draw a dot at each point (a series of one point is otherwise invisible). */
  markers?: boolean;
}

export interface LineChart {
  title?: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Axis ranges; by default the data's extent. */
  xRange?: [number, number];
  yRange?: [number, number];
  width?: number;
  height?: number;
  /** Said in the middle of the plot, e.g. why there is nothing to see there. */
  note?: string;
}

/** Distinct colours for series without their own (a colour-blind-friendly set). */
export const SERIES_COLOURS: Colour[] = [[0, 114, 178], [213, 94, 0], [0, 158, 115], [204, 121, 167], [230, 159, 0], [86, 180, 233], [0, 0, 0], [240, 228, 66]];

const INK: Colour = [0, 0, 0];
const GRID: Colour = [225, 225, 225];
const NOTE_INK: Colour = [200, 0, 0];
const TEXT_SCALE = 2;

/** About `count` round tick values (steps of 1, 2 or 5 times a power of ten) covering [low, high]. */
export function niceTicks(low: number, high: number, count = 5): number[] {
  if (!(high > low)) return [low];
  const rough = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(low / step - 1e-9) * step; v <= high + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Splits text at spaces into lines no wider than `maxWidth` pixels (a word wider than that gets a line of its own). */
export function wrapText(text: string, maxWidth: number, scale: number): string[] {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    const last = lines.length - 1;
    if (last >= 0 && textWidth(`${lines[last]} ${word}`, scale) <= maxWidth) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines;
}

function formatTick(value: number, ticks: number[]): string {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : Math.abs(value) || 1;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return value.toFixed(decimals);
}

function extent(series: Series[], key: 'x' | 'y'): [number, number] {
  let low = Infinity;
  let high = -Infinity;
  for (const s of series) {
    for (let i = 0; i < s[key].length; i++) {
      const v = s[key][i];
      if (!Number.isFinite(v)) continue;
      low = Math.min(low, v);
      high = Math.max(high, v);
    }
  }
  if (!Number.isFinite(low)) return [0, 1];
  // A flat series still needs a visible range.
  return high > low ? [low, high] : [low - 0.5, high + 0.5];
}

export function renderLineChart(chart: LineChart): RgbImage {
  const width = chart.width ?? 800;
  const height = chart.height ?? 560;
  const image = createRgbImage(width, height);
  image.data.fill(255);
  const [xMin, xMax] = chart.xRange ?? extent(chart.series, 'x');
  const [yMin, yMax] = chart.yRange ?? extent(chart.series, 'y');
  const xTicks = niceTicks(xMin, xMax);
  const yTicks = niceTicks(yMin, yMax);
  const yTickLabels = yTicks.map((v) => formatTick(v, yTicks));
  const lineHeight = GLYPH_HEIGHT * TEXT_SCALE;

  // Plot area: room on the left for the y label and tick labels, above for the title (a long one,
  // naming files, wraps), below for the x ticks and label.
  const left = 34 + lineHeight + Math.max(...yTickLabels.map((l) => textWidth(l, TEXT_SCALE)));
  const titleLines = chart.title ? wrapText(chart.title, width - 20, TEXT_SCALE) : [];
  const top = 20 + titleLines.length * (lineHeight + 4);
  const right = width - 32;
  const bottom = height - (24 + 2 * lineHeight);
  const toX = (v: number) => left + ((v - xMin) / (xMax - xMin)) * (right - left);
  const toY = (v: number) => bottom - ((v - yMin) / (yMax - yMin)) * (bottom - top);

  xTicks.forEach((v) => {
    const x = toX(v);
    strokePolyline(image, [[x, top], [x, bottom]], 1, GRID);
    strokePolyline(image, [[x, bottom], [x, bottom + 5]], 1, INK);
    const label = formatTick(v, xTicks);
    drawText(image, x - textWidth(label, TEXT_SCALE) / 2, bottom + 9, label, INK, TEXT_SCALE);
  });
  yTicks.forEach((v, k) => {
    const y = toY(v);
    strokePolyline(image, [[left, y], [right, y]], 1, GRID);
    strokePolyline(image, [[left - 5, y], [left, y]], 1, INK);
    drawText(image, left - 9 - textWidth(yTickLabels[k], TEXT_SCALE), y - lineHeight / 2, yTickLabels[k], INK, TEXT_SCALE);
  });

  // Series are drawn on a canvas the size of the plot area, so lines outside the ranges are clipped.
  const area = createRgbImage(Math.round(right - left), Math.round(bottom - top));
  area.data.fill(255);
  const blank = new Uint8Array(area.data);
  chart.series.forEach((s, k) => {
    const colour = s.colour ?? SERIES_COLOURS[k % SERIES_COLOURS.length];
    const points: Array<[number, number]> = [];
    for (let i = 0; i < Math.min(s.x.length, s.y.length); i++) {
      if (Number.isFinite(s.x[i]) && Number.isFinite(s.y[i])) points.push([toX(s.x[i]) - left, toY(s.y[i]) - top]);
    }
    strokePolyline(area, points, 2, colour);
    if (s.markers) for (const [x, y] of points) fillEllipse(area, x, y, 4, 4, 0, colour);
  });
  for (let j = 0; j < area.height; j++) {
    for (let i = 0; i < area.width; i++) {
      const a = 3 * (j * area.width + i);
      // Only series pixels are copied, so the grid stays visible under and between the lines.
      if (area.data[a] === blank[a] && area.data[a + 1] === blank[a + 1] && area.data[a + 2] === blank[a + 2]) continue;
      image.data.set(area.data.subarray(a, a + 3), 3 * ((j + Math.round(top)) * width + i + Math.round(left)));
    }
  }

  strokePolyline(image, [[left, top], [left, bottom], [right, bottom]], 1.5, INK);
  titleLines.forEach((line, i) => drawText(image, (width - textWidth(line, TEXT_SCALE)) / 2, 10 + i * (lineHeight + 4), line, INK, TEXT_SCALE));
  if (chart.note) {
    const noteLines = wrapText(chart.note, right - left - 40, TEXT_SCALE);
    const noteTop = (top + bottom) / 2 - (noteLines.length * (lineHeight + 4)) / 2;
    noteLines.forEach((line, i) => drawText(image, (left + right - textWidth(line, TEXT_SCALE)) / 2, noteTop + i * (lineHeight + 4), line, NOTE_INK, TEXT_SCALE));
  }
  drawText(image, (left + right - textWidth(chart.xLabel, TEXT_SCALE)) / 2, height - 10 - lineHeight, chart.xLabel, INK, TEXT_SCALE);
  drawText(image, 10, (top + bottom + textWidth(chart.yLabel, TEXT_SCALE)) / 2, chart.yLabel, INK, TEXT_SCALE, true);
  drawLegend(image, chart.series, right - 10, top + 10);
  return image;
}

/** A boxed legend whose top-right corner is at (x, y): a colour swatch and the name of each series. */
function drawLegend(image: RgbImage, series: Series[], x: number, y: number): void {
  if (series.length === 0) return;
  const row = GLYPH_HEIGHT * TEXT_SCALE + 8;
  const boxWidth = 46 + Math.max(...series.map((s) => textWidth(s.name, TEXT_SCALE)));
  const boxHeight = 8 + series.length * row;
  const x0 = x - boxWidth;
  fillPolygon(image, [[x0, y], [x, y], [x, y + boxHeight], [x0, y + boxHeight]], [255, 255, 255]);
  strokePolyline(image, [[x0, y], [x, y], [x, y + boxHeight], [x0, y + boxHeight]], 1, INK, true);
  series.forEach((s, k) => {
    const rowTop = y + 8 + k * row;
    const colour = s.colour ?? SERIES_COLOURS[k % SERIES_COLOURS.length];
    strokePolyline(image, [[x0 + 8, rowTop + row / 2 - 4], [x0 + 34, rowTop + row / 2 - 4]], 3, colour);
    drawText(image, x0 + 40, rowTop, s.name, INK, TEXT_SCALE);
  });
}

export function writeLineChartPng(file: string, chart: LineChart): void {
  writeFileAtomic(file, encodePng(renderLineChart(chart)));
}
