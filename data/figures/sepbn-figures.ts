// The two SepBN figures: each layer's K sets of scale and shift as heat maps, and the attention
// each layer gives its K sets over the test images (per image, and as mean and spread).
import { drawText, GLYPH_HEIGHT, textWidth } from './bitmap-font.ts';
import { drawCentredText, fillRect } from './canvas.ts';
import { drawColourBar, drawHeatmap, heatmapWidth, type Heatmap } from './heatmap.ts';
import { SERIES_COLOURS } from './plot.ts';
import { strokePolyline, type Colour } from './raster.ts';
import { createRgbImage, type RgbImage } from '../rgb-image.ts';
import type { LayerAttention, LayerParameters } from '../sepbn-inspection.ts';

const TEXT = 2;
const LINE = GLYPH_HEIGHT * TEXT;
const INK: Colour = [0, 0, 0];
const MARGIN = 20;

function blankImage(width: number, height: number): RgbImage {
  const image = createRgbImage(width, height);
  image.data.fill(255);
  return image;
}

const setLabels = (count: number) => Array.from({ length: count }, (_, k) => `set ${k + 1}`);

/** Each set's deviation from the mean of the K sets, channel by channel: sets x channels, row-major, as `values`. */
export function deviationFromMean(values: ArrayLike<number>, channels: number): Float64Array {
  const sets = values.length / channels;
  const out = new Float64Array(values.length);
  for (let c = 0; c < channels; c++) {
    let mean = 0;
    for (let k = 0; k < sets; k++) mean += values[k * channels + c] / sets;
    for (let k = 0; k < sets; k++) out[k * channels + c] = values[k * channels + c] - mean;
  }
  return out;
}

/**
 * One block per layer, two panels a row: scale gamma_k (white at 1, the identity) beside each set's
 * deviation from the mean of the K sets, then shift beta_k (white at 0) beside its deviation. A
 * row per set k and a column per channel, each panel with its own symmetric colour bar: the sets
 * may differ by a hundredth of the values' range, which the absolute panels cannot show and the
 * deviation panels, on their own scale, do.
 */
export function renderSepBnParameters(layers: LayerParameters[], title: string): RgbImage {
  const rowHeight = 26;
  const labelWidth = textWidth('set 9', TEXT) + 12;
  const mapMaxWidth = 512;
  const barWidth = 16;
  const panelWidth = labelWidth + mapMaxWidth + 14 + barWidth + 10 + textWidth('-0.000000', TEXT) + 24;
  const sets = Math.max(...layers.map((l) => l.scales.length / l.channels));
  const panelHeight = (LINE + 8) + sets * rowHeight + (13 + LINE) + 22;
  const blockHeight = (LINE + 10) + 2 * panelHeight;
  const explanation = 'left: the values of each set. right: each set minus the mean of the K sets, on a colour scale of its own';
  const top = MARGIN + 2 * (LINE + 8) + 8;
  const image = blankImage(Math.max(2 * MARGIN + 2 * panelWidth, 2 * MARGIN + textWidth(title, TEXT), 2 * MARGIN + textWidth(explanation, TEXT)), top + layers.length * blockHeight);
  drawText(image, MARGIN, MARGIN, title, INK, TEXT);
  drawText(image, MARGIN, MARGIN + LINE + 8, explanation, INK, TEXT);
  layers.forEach((layer, i) => {
    const y = top + i * blockHeight;
    const rows = layer.scales.length / layer.channels;
    const width = heatmapWidth(layer.channels, mapMaxWidth);
    const binned = layer.channels > mapMaxWidth ? `, ${Math.ceil(layer.channels / mapMaxWidth)} channels averaged per pixel` : '';
    drawText(image, MARGIN, y, `${layer.name}: ${rows} sets x ${layer.channels} channels${binned}`, INK, TEXT);
    fillRect(image, MARGIN, y + LINE + 3, image.width - 2 * MARGIN, 1, [160, 160, 160]);
    const map = (values: Float64Array, centre: number): Heatmap => ({ values, rows, columns: layer.channels, centre, rowLabels: setLabels(rows) });
    const panels: Array<[string, Heatmap]> = [
      ['scale gamma_k by channel (white: 1)', map(layer.scales, 1)],
      ['gamma_k - mean of the sets (white: 0)', map(deviationFromMean(layer.scales, layer.channels), 0)],
      ['shift beta_k by channel (white: 0)', map(layer.shifts, 0)],
      ['beta_k - mean of the sets (white: 0)', map(deviationFromMean(layer.shifts, layer.channels), 0)],
    ];
    panels.forEach(([panelTitle, heatmap], p) => {
      const x = MARGIN + (p % 2) * panelWidth + labelWidth;
      const panelTop = y + LINE + 10 + Math.floor(p / 2) * panelHeight;
      const mapTop = panelTop + LINE + 8;
      drawText(image, x, panelTop, panelTitle, INK, TEXT);
      drawHeatmap(image, x, mapTop, width, rowHeight, heatmap, TEXT);
      drawColourBar(image, x + width + 14, mapTop, barWidth, rows * rowHeight, heatmap, TEXT);
    });
  });
  return image;
}

/** Mean, standard deviation, minimum and maximum of column k of an images x sets matrix. */
function setStatistics(weights: Float64Array, sets: number, k: number): { mean: number; sd: number; min: number; max: number } {
  const images = weights.length / sets;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let n = 0; n < images; n++) {
    const w = weights[n * sets + k];
    sum += w;
    min = Math.min(min, w);
    max = Math.max(max, w);
  }
  const mean = sum / images;
  let squares = 0;
  for (let n = 0; n < images; n++) squares += (weights[n * sets + k] - mean) ** 2;
  return { mean, sd: Math.sqrt(squares / images), min, max };
}

/** Images ordered by their weight on set 1, largest first, so the bars form smooth bands. */
function sortedImages(weights: Float64Array, sets: number): number[] {
  const order = Array.from({ length: weights.length / sets }, (_, n) => n);
  return order.sort((a, b) => weights[b * sets] - weights[a * sets] || weights[b * sets + 1] - weights[a * sets + 1]);
}

function drawUnitAxis(image: RgbImage, x: number, top: number, bottom: number, labelled: boolean): void {
  for (const v of [0, 0.5, 1]) {
    const y = bottom - v * (bottom - top);
    strokePolyline(image, [[x - 5, y], [x, y]], 1, INK);
    if (labelled) drawText(image, x - 9 - textWidth(String(v), TEXT), y - LINE / 2, String(v), INK, TEXT);
  }
  strokePolyline(image, [[x, top], [x, bottom]], 1, INK);
}

/**
 * One column per layer. Top: a stacked bar per test image, its attention to each set (sorted).
 * Bottom: each set's mean attention as a bar, +-1 standard deviation as a thick line and the
 * range over images as a thin one, with the numbers below.
 */
export function renderSepBnAttention(layers: LayerAttention[], caption: string): RgbImage {
  const sets = Math.max(...layers.map((l) => l.sets));
  const columnWidth = 250;
  const plotWidth = 200;
  const left = MARGIN + LINE + 12 + textWidth('0.5', TEXT) + 12;
  const legendTop = MARGIN + 2 * (LINE + 8);
  const stackTop = legendTop + LINE + 20 + LINE + 10;
  const stackHeight = 220;
  const meanTop = stackTop + stackHeight + 16 + LINE + 24;
  const meanHeight = 150;
  const numbersTop = meanTop + meanHeight + 10;
  const explanation = 'top: one bar per test image, sorted by its weight on set 1. bottom: mean (bar), +-1 sd (thick line), min to max (thin line)';
  const width = Math.max(left + layers.length * columnWidth, MARGIN + textWidth(caption, TEXT), MARGIN + textWidth(explanation, TEXT)) + MARGIN;
  const image = blankImage(width, numbersTop + sets * (LINE + 6) + MARGIN);
  const colourOf = (k: number) => SERIES_COLOURS[k % SERIES_COLOURS.length];

  drawText(image, MARGIN, MARGIN, caption, INK, TEXT);
  drawText(image, MARGIN, MARGIN + LINE + 8, explanation, INK, TEXT);
  for (let k = 0; k < sets; k++) {
    const x = left + k * 110;
    fillRect(image, x, legendTop, LINE, LINE, colourOf(k));
    drawText(image, x + LINE + 8, legendTop, `set ${k + 1}`, INK, TEXT);
  }
  drawText(image, MARGIN, stackTop + (stackHeight + textWidth('weight', TEXT)) / 2, 'weight', INK, TEXT, true);
  drawText(image, MARGIN, meanTop + (meanHeight + textWidth('mean weight', TEXT)) / 2, 'mean weight', INK, TEXT, true);

  layers.forEach((layer, i) => {
    const x = left + i * columnWidth;
    const images = layer.weights.length / layer.sets;
    drawCentredText(image, x + plotWidth / 2, stackTop - LINE / 2 - 10, `${layer.name} (${layer.channels} ch.)`, INK, TEXT);

    // Stacked bars, set 1 at the bottom; images share a pixel column (averaged) when there are more than pixels.
    const order = sortedImages(layer.weights, layer.sets);
    const barWidth = images <= plotWidth ? Math.floor(plotWidth / images) : 1;
    const columns = Math.min(images, plotWidth);
    for (let c = 0; c < columns; c++) {
      const first = Math.floor((c * images) / columns);
      const last = Math.max(first + 1, Math.floor(((c + 1) * images) / columns));
      let base = 0;
      for (let k = 0; k < layer.sets; k++) {
        let share = 0;
        for (let n = first; n < last; n++) share += layer.weights[order[n] * layer.sets + k] / (last - first);
        const y0 = stackTop + stackHeight * (1 - base - share);
        fillRect(image, x + c * barWidth, Math.round(y0), barWidth, Math.round(stackTop + stackHeight * (1 - base)) - Math.round(y0), colourOf(k));
        base += share;
      }
    }
    drawUnitAxis(image, x, stackTop, stackTop + stackHeight, i === 0);
    strokePolyline(image, [[x, stackTop + stackHeight], [x + plotWidth, stackTop + stackHeight]], 1, INK);
    drawCentredText(image, x + plotWidth / 2, stackTop + stackHeight + 8 + LINE / 2, `${images} images`, INK, TEXT);

    // Mean bars with spread.
    const slot = plotWidth / layer.sets;
    const toY = (v: number) => meanTop + meanHeight * (1 - v);
    for (let k = 0; k < layer.sets; k++) {
      const { mean, sd, min, max } = setStatistics(layer.weights, layer.sets, k);
      const cx = x + (k + 0.5) * slot;
      fillRect(image, cx - slot * 0.3, Math.round(toY(mean)), slot * 0.6, Math.round(toY(0)) - Math.round(toY(mean)), colourOf(k));
      strokePolyline(image, [[cx, toY(min)], [cx, toY(max)]], 1, INK);
      strokePolyline(image, [[cx - 6, toY(min)], [cx + 6, toY(min)]], 1, INK);
      strokePolyline(image, [[cx - 6, toY(max)], [cx + 6, toY(max)]], 1, INK);
      strokePolyline(image, [[cx, toY(Math.max(0, mean - sd))], [cx, toY(Math.min(1, mean + sd))]], 5, INK);
      drawText(image, x, numbersTop + k * (LINE + 6), `${k + 1}: ${mean.toFixed(3)} sd ${sd.toFixed(3)}`, colourOf(k), TEXT);
    }
    drawUnitAxis(image, x, meanTop, meanTop + meanHeight, i === 0);
    strokePolyline(image, [[x, meanTop + meanHeight], [x + plotWidth, meanTop + meanHeight]], 1, INK);
  });
  return image;
}
