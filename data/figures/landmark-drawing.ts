// Landmarks drawn on their image for a person to judge: the image upscaled (nearest neighbour, a
// whole factor, so each source pixel stays a crisp block) until the face is readable, one dot per
// point coloured by facial part, and a legend of the parts in a strip below the image.
import { drawText, GLYPH_HEIGHT, textWidth } from './bitmap-font.ts';
import { fillEllipse, strokePolyline, type Colour } from './raster.ts';
import { createRgbImage, type RgbImage } from '../rgb-image.ts';
import { LANDMARK_COUNT, wflwTopology } from '../topology.ts';

/** Facial parts as a person names them, each made of topology parts (left and right share a colour). */
export const DRAWN_PARTS: ReadonlyArray<{ name: string; parts: string[]; colour: Colour }> = [
  { name: 'contour', parts: ['contour'], colour: [255, 221, 0] },
  { name: 'brows', parts: ['right_eyebrow', 'left_eyebrow'], colour: [255, 120, 0] },
  { name: 'nose', parts: ['nose'], colour: [0, 210, 255] },
  { name: 'eyes', parts: ['right_eye', 'left_eye'], colour: [40, 230, 60] },
  { name: 'mouth', parts: ['outer_lips', 'inner_lips'], colour: [255, 40, 200] },
  { name: 'pupils', parts: ['right_pupil', 'left_pupil'], colour: [60, 90, 255] },
];

const OUTLINE: Colour = [0, 0, 0];
export const BOX_COLOUR: Colour = [255, 255, 255];
const BOX_WIDTH = 2;
const TEXT_SCALE = 2;
/** The face is scaled up to at least this many pixels across. */
export const READABLE_FACE_PX = 384;
/** No side of a drawing grows past this by upscaling. */
const MAX_SIDE_PX = 4096;

/** The colour of each of the 98 points. */
export function landmarkColours(): Colour[] {
  const { parts } = wflwTopology();
  const colours: Colour[] = new Array(LANDMARK_COUNT);
  for (const drawn of DRAWN_PARTS) {
    for (const part of drawn.parts) {
      const [first, last] = parts[part];
      for (let i = first; i <= last; i++) colours[i] = drawn.colour;
    }
  }
  return colours;
}

/** The whole-number upscale that makes a face of this side readable without making the image huge. */
export function readableScale(faceSidePx: number, image: RgbImage): number {
  const wanted = Math.ceil(READABLE_FACE_PX / Math.max(faceSidePx, 1));
  const allowed = Math.floor(MAX_SIDE_PX / Math.max(image.width, image.height));
  return Math.max(1, Math.min(wanted, allowed));
}

/** Dot radius in drawing pixels: a little over a source pixel, never smaller than a few pixels. */
export function dotRadius(scale: number): number {
  return Math.max(3.5, 1.25 * scale);
}

function upscale(image: RgbImage, scale: number, extraRows: number): RgbImage {
  const out = createRgbImage(image.width * scale, image.height * scale + extraRows);
  out.data.fill(255);
  for (let y = 0; y < out.height - extraRows; y++) {
    for (let x = 0; x < out.width; x++) {
      const source = 3 * (Math.floor(y / scale) * image.width + Math.floor(x / scale));
      out.data.set(image.data.subarray(source, source + 3), 3 * (y * out.width + x));
    }
  }
  return out;
}

/** Legend rows: as many swatch-and-name entries per row as the width holds. */
function legendLayout(width: number): Array<{ x: number; row: number; entry: (typeof DRAWN_PARTS)[number] }> {
  const gap = 20;
  const placed: Array<{ x: number; row: number; entry: (typeof DRAWN_PARTS)[number] }> = [];
  let x = gap / 2;
  let row = 0;
  for (const entry of DRAWN_PARTS) {
    const entryWidth = 2 * GLYPH_HEIGHT * TEXT_SCALE + textWidth(entry.name, TEXT_SCALE);
    if (x + entryWidth > width && x > gap / 2) {
      row++;
      x = gap / 2;
    }
    placed.push({ x, row, entry });
    x += entryWidth + gap;
  }
  return placed;
}

/**
 * The image upscaled by `scale` with the 98 landmarks (x y interleaved, the image's own pixels) as
 * dots, and the part legend below. Outlines are drawn before any fill, so every point's centre
 * shows a part colour even where dots overlap; among overlapping dots the later point is on top.
 * A face box (x0, y0, x1, y1 in the image's pixels), when given, is drawn under the dots, white on
 * black so it shows on any picture: a wrong box is the first thing to suspect in a wrong prediction.
 */
export function drawLandmarks(image: RgbImage, landmarksPx: ArrayLike<number>, scale: number, box?: readonly [number, number, number, number]): RgbImage {
  if (landmarksPx.length !== 2 * LANDMARK_COUNT) throw new Error(`drawLandmarks: expected ${2 * LANDMARK_COUNT} coordinates, got ${landmarksPx.length}`);
  const rowHeight = GLYPH_HEIGHT * TEXT_SCALE + 12;
  const legend = legendLayout(image.width * scale);
  const legendHeight = (legend.at(-1)!.row + 1) * rowHeight + 8;
  const out = upscale(image, scale, legendHeight);
  if (box) {
    const corners: Array<[number, number]> = [[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]].map(([x, y]): [number, number] => [x * scale, y * scale]);
    strokePolyline(out, corners, BOX_WIDTH + 2, OUTLINE, true);
    strokePolyline(out, corners, BOX_WIDTH, BOX_COLOUR, true);
  }
  const radius = dotRadius(scale);
  const colours = landmarkColours();
  for (let i = 0; i < LANDMARK_COUNT; i++) fillEllipse(out, landmarksPx[2 * i] * scale, landmarksPx[2 * i + 1] * scale, radius + 1.5, radius + 1.5, 0, OUTLINE);
  for (let i = 0; i < LANDMARK_COUNT; i++) fillEllipse(out, landmarksPx[2 * i] * scale, landmarksPx[2 * i + 1] * scale, radius, radius, 0, colours[i]);
  // Dots near the bottom edge would spill into the legend strip: keep them inside the picture.
  out.data.fill(255, 3 * out.width * image.height * scale);
  const top = image.height * scale + 6;
  for (const { x, row, entry } of legend) {
    const y = top + row * rowHeight;
    const swatch = GLYPH_HEIGHT * TEXT_SCALE;
    fillEllipse(out, x + swatch / 2, y + swatch / 2, swatch / 2 + 1.5, swatch / 2 + 1.5, 0, OUTLINE);
    fillEllipse(out, x + swatch / 2, y + swatch / 2, swatch / 2, swatch / 2, 0, entry.colour);
    drawText(out, x + swatch + 6, y, entry.name, [0, 0, 0], TEXT_SCALE);
  }
  return out;
}
