// A small rasteriser for the synthetic faces: filled polygons, thick polylines and ellipses drawn
// straight into an RgbImage. A pixel is painted when its centre (i + 0.5, j + 0.5) is inside the
// shape, the same continuous-coordinate convention as the landmarks. No anti-aliasing: the loader's
// bilinear resampling and the added noise soften edges enough.
import type { RgbImage } from '../rgb-image.ts';

export type Colour = readonly [number, number, number];
/** Points as [x, y] pairs in image pixels. */
export type Points = ReadonlyArray<readonly [number, number]>;

function put(image: RgbImage, i: number, j: number, colour: Colour): void {
  if (i < 0 || j < 0 || i >= image.width || j >= image.height) return;
  const o = 3 * (j * image.width + i);
  image.data[o] = colour[0];
  image.data[o + 1] = colour[1];
  image.data[o + 2] = colour[2];
}

function clampRange(low: number, high: number, limit: number): [number, number] {
  return [Math.max(0, Math.floor(low)), Math.min(limit - 1, Math.ceil(high))];
}

/** Even-odd scanline fill of a closed polygon. */
export function fillPolygon(image: RgbImage, points: Points, colour: Colour): void {
  if (points.length < 3) return;
  const ys = points.map((p) => p[1]);
  const [j0, j1] = clampRange(Math.min(...ys) - 0.5, Math.max(...ys), image.height);
  const crossings: number[] = [];
  for (let j = j0; j <= j1; j++) {
    const y = j + 0.5;
    crossings.length = 0;
    for (let k = 0; k < points.length; k++) {
      const [xa, ya] = points[k];
      const [xb, yb] = points[(k + 1) % points.length];
      // Half-open in y so a vertex on the scanline counts once.
      if ((ya <= y && yb > y) || (yb <= y && ya > y)) crossings.push(xa + ((y - ya) / (yb - ya)) * (xb - xa));
    }
    crossings.sort((a, b) => a - b);
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      // Pixels whose centre lies in [left, right).
      const first = Math.max(0, Math.ceil(crossings[k] - 0.5));
      const last = Math.min(image.width - 1, Math.ceil(crossings[k + 1] - 0.5) - 1);
      for (let i = first; i <= last; i++) put(image, i, j, colour);
    }
  }
}

/** Ellipse with semi-axes rx, ry, rotated by `angle` radians about its centre. */
export function fillEllipse(image: RgbImage, cx: number, cy: number, rx: number, ry: number, angle: number, colour: Colour): void {
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const reach = Math.max(rx, ry);
  const [i0, i1] = clampRange(cx - reach - 1, cx + reach + 1, image.width);
  const [j0, j1] = clampRange(cy - reach - 1, cy + reach + 1, image.height);
  for (let j = j0; j <= j1; j++) {
    for (let i = i0; i <= i1; i++) {
      const dx = i + 0.5 - cx;
      const dy = j + 0.5 - cy;
      const u = (dx * cos + dy * sin) / rx;
      const v = (-dx * sin + dy * cos) / ry;
      if (u * u + v * v <= 1) put(image, i, j, colour);
    }
  }
}

/** Every pixel whose centre is within width/2 of the polyline; round joins and caps come for free. */
export function strokePolyline(image: RgbImage, points: Points, width: number, colour: Colour, closed = false): void {
  const half = Math.max(width / 2, 0.5);
  const segments = closed ? points.length : points.length - 1;
  for (let k = 0; k < segments; k++) {
    const [xa, ya] = points[k];
    const [xb, yb] = points[(k + 1) % points.length];
    const [i0, i1] = clampRange(Math.min(xa, xb) - half - 1, Math.max(xa, xb) + half, image.width);
    const [j0, j1] = clampRange(Math.min(ya, yb) - half - 1, Math.max(ya, yb) + half, image.height);
    const dx = xb - xa;
    const dy = yb - ya;
    const lengthSquared = dx * dx + dy * dy || 1;
    for (let j = j0; j <= j1; j++) {
      for (let i = i0; i <= i1; i++) {
        const px = i + 0.5 - xa;
        const py = j + 0.5 - ya;
        const t = Math.min(1, Math.max(0, (px * dx + py * dy) / lengthSquared));
        const ex = px - t * dx;
        const ey = py - t * dy;
        if (ex * ex + ey * ey <= half * half) put(image, i, j, colour);
      }
    }
  }
}

/** Fills the whole image with a vertical blend from `top` to `bottom`. */
export function fillGradient(image: RgbImage, top: Colour, bottom: Colour): void {
  for (let j = 0; j < image.height; j++) {
    const t = image.height > 1 ? j / (image.height - 1) : 0;
    const colour: Colour = [0, 1, 2].map((c) => Math.round(top[c] + t * (bottom[c] - top[c]))) as unknown as Colour;
    for (let i = 0; i < image.width; i++) put(image, i, j, colour);
  }
}

/** Separable box blur of the given radius, edges clamped. */
export function boxBlur(image: RgbImage, radius: number): void {
  const { width, height, data } = image;
  const pass = (length: number, lines: number, index: (line: number, k: number) => number) => {
    const row = new Float64Array(length * 3);
    for (let line = 0; line < lines; line++) {
      for (let k = 0; k < length; k++) for (let c = 0; c < 3; c++) row[3 * k + c] = data[index(line, k) + c];
      for (let k = 0; k < length; k++) {
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let r = -radius; r <= radius; r++) sum += row[3 * Math.min(length - 1, Math.max(0, k + r)) + c];
          data[index(line, k) + c] = Math.round(sum / (2 * radius + 1));
        }
      }
    }
  };
  pass(width, height, (j, i) => 3 * (j * width + i));
  pass(height, width, (i, j) => 3 * (j * width + i));
}
