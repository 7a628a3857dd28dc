// Heat maps of a small matrix (rows x columns) in a diverging colour map centred on a reference
// value (white), with a colour bar labelled at both ends and the centre. Columns wider than the
// space given are averaged in bins of neighbours, so a 2048-channel layer still fits on a page.
import { GLYPH_HEIGHT, drawText, textWidth } from './bitmap-font.ts';
import { fillRect } from './canvas.ts';
import { niceTicks } from './plot.ts';
import { strokePolyline, type Colour } from './raster.ts';
import type { RgbImage } from '../rgb-image.ts';

/** Blue (below the centre) through white to red (above): ColorBrewer's RdBu, reversed. */
const DIVERGING_STOPS: Colour[] = [
  [5, 48, 97], [33, 102, 172], [67, 147, 195], [146, 197, 222], [209, 229, 240], [247, 247, 247],
  [253, 219, 199], [244, 165, 130], [214, 96, 77], [178, 24, 43], [103, 0, 31],
];

const INK: Colour = [0, 0, 0];

/** The colour of t in [-1, 1] (clamped): -1 deep blue, 0 white, 1 deep red. */
export function divergingColour(t: number): Colour {
  const position = ((Math.max(-1, Math.min(1, t)) + 1) / 2) * (DIVERGING_STOPS.length - 1);
  const i = Math.min(DIVERGING_STOPS.length - 2, Math.floor(position));
  const f = position - i;
  const [a, b] = [DIVERGING_STOPS[i], DIVERGING_STOPS[i + 1]];
  return [0, 1, 2].map((c) => Math.round(a[c] + f * (b[c] - a[c]))) as unknown as Colour;
}

export interface Heatmap {
  /** rows x columns, row-major. */
  values: ArrayLike<number>;
  rows: number;
  columns: number;
  /** The value drawn white. */
  centre: number;
  rowLabels: string[];
}

/** The value range shown: symmetric about the centre, reaching the farthest value (never empty). */
export function halfRange(map: Heatmap): number {
  let reach = 0;
  for (let i = 0; i < map.values.length; i++) reach = Math.max(reach, Math.abs(map.values[i] - map.centre));
  return reach > 0 ? reach : 1e-6;
}

/** Pixel width for the matrix within `maxWidth`: a whole number of pixels per column when they fit. */
export function heatmapWidth(columns: number, maxWidth: number): number {
  return columns <= maxWidth ? columns * Math.floor(maxWidth / columns) : maxWidth;
}

/** Decimals that show a value range of this size with about three significant digits. */
export function decimalsFor(range: number): number {
  return Math.max(0, 2 - Math.floor(Math.log10(range)));
}

/**
 * Draws the cells with their top-left corner at (x, y), `width` wide (from heatmapWidth) and
 * `rowHeight` per row, row labels to the left, column (channel index) ticks below.
 */
export function drawHeatmap(image: RgbImage, x: number, y: number, width: number, rowHeight: number, map: Heatmap, textScale: number): void {
  const reach = halfRange(map);
  for (let r = 0; r < map.rows; r++) {
    for (let px = 0; px < width; px++) {
      // Columns [first, last) fall in this pixel column.
      const first = Math.floor((px * map.columns) / width);
      const last = Math.max(first + 1, Math.floor(((px + 1) * map.columns) / width));
      let sum = 0;
      for (let c = first; c < last; c++) sum += map.values[r * map.columns + c];
      const colour = divergingColour((sum / (last - first) - map.centre) / reach);
      fillRect(image, x + px, y + r * rowHeight, 1, rowHeight, colour);
    }
    // A white line between rows keeps sets apart where neighbouring rows have the same colour.
    if (r > 0) fillRect(image, x, y + r * rowHeight, width, 1, [255, 255, 255]);
    const label = map.rowLabels[r];
    drawText(image, x - 8 - textWidth(label, textScale), y + r * rowHeight + (rowHeight - GLYPH_HEIGHT * textScale) / 2, label, INK, textScale);
  }
  const bottom = y + map.rows * rowHeight;
  strokePolyline(image, [[x, y], [x + width, y], [x + width, bottom], [x, bottom]], 1, INK, true);
  const ticks = niceTicks(0, map.columns - 1, 4).filter(Number.isInteger);
  for (const c of ticks) {
    const tx = x + ((c + 0.5) * width) / map.columns;
    strokePolyline(image, [[tx, bottom], [tx, bottom + 5]], 1, INK);
    const label = String(c);
    drawText(image, tx - textWidth(label, textScale) / 2, bottom + 8, label, INK, textScale);
  }
}

/** A vertical colour bar for the heat map, labelled with its top, centre and bottom values. */
export function drawColourBar(image: RgbImage, x: number, y: number, width: number, height: number, map: Heatmap, textScale: number): void {
  const reach = halfRange(map);
  for (let j = 0; j < height; j++) fillRect(image, x, y + j, width, 1, divergingColour(1 - (2 * (j + 0.5)) / height));
  strokePolyline(image, [[x, y], [x + width, y], [x + width, y + height], [x, y + height]], 1, INK, true);
  const decimals = decimalsFor(reach);
  const labels: Array<[number, number]> = [[map.centre + reach, y], [map.centre, y + height / 2], [map.centre - reach, y + height]];
  for (const [value, ly] of labels) {
    strokePolyline(image, [[x + width, ly], [x + width + 4, ly]], 1, INK);
    drawText(image, x + width + 10, ly - (GLYPH_HEIGHT * textScale) / 2, value.toFixed(decimals), INK, textScale);
  }
}
