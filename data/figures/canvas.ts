// Composing figures from parts: solid rectangles, pasting one image into another, and text
// centred on a point. Coordinates are whole pixels from the top-left corner.
import { drawText, GLYPH_HEIGHT, textWidth } from './bitmap-font.ts';
import type { Colour } from './raster.ts';
import type { RgbImage } from '../rgb-image.ts';

export function fillRect(image: RgbImage, x: number, y: number, width: number, height: number, colour: Colour): void {
  const x0 = Math.max(0, Math.round(x));
  const y0 = Math.max(0, Math.round(y));
  const x1 = Math.min(image.width, Math.round(x + width));
  const y1 = Math.min(image.height, Math.round(y + height));
  for (let j = y0; j < y1; j++) for (let i = x0; i < x1; i++) image.data.set(colour, 3 * (j * image.width + i));
}

/** Copies `source` with its top-left corner at (x, y), clipped to the target. */
export function paste(target: RgbImage, source: RgbImage, x: number, y: number): void {
  for (let j = 0; j < source.height; j++) {
    const ty = y + j;
    if (ty < 0 || ty >= target.height) continue;
    const i0 = Math.max(0, -x);
    const i1 = Math.min(source.width, target.width - x);
    if (i1 <= i0) continue;
    target.data.set(source.data.subarray(3 * (j * source.width + i0), 3 * (j * source.width + i1)), 3 * (ty * target.width + x + i0));
  }
}

/** Text whose centre is at (cx, cy). */
export function drawCentredText(image: RgbImage, cx: number, cy: number, text: string, colour: Colour, scale: number): void {
  drawText(image, cx - textWidth(text, scale) / 2, cy - (GLYPH_HEIGHT * scale) / 2, text, colour, scale);
}
