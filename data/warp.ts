// Affine resampling of RgbImage. Coordinates are continuous: pixel (i, j) covers [i, i+1) x [j, j+1)
// and its centre is (i + 0.5, j + 0.5). Landmarks use the same convention, so an affine map moves
// pixels and landmarks identically with no half-pixel corrections anywhere.
// Matrices are gl-matrix mat2d [a, b, c, d, tx, ty]: x' = a x + c y + tx, y' = b x + d y + ty.
// Every warp takes the INVERSE map (output -> source), the direction resampling needs.
import type { mat2d } from 'gl-matrix';
import { createRgbImage, type RgbImage } from './rgb-image.ts';

export type Interpolation = 'nearest' | 'bilinear';

/** Resamples into a new width x height RGB image; source pixels outside the image read as zero. */
export function warpRgb(source: RgbImage, outputToSource: mat2d, width: number, height: number, interpolation: Interpolation): RgbImage {
  const out = createRgbImage(width, height);
  const [a, b, c, d, tx, ty] = outputToSource as ArrayLike<number> as number[];
  const { width: sw, height: sh, data: src } = source;
  const dst = out.data;
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const x = a * (u + 0.5) + c * (v + 0.5) + tx;
      const y = b * (u + 0.5) + d * (v + 0.5) + ty;
      const o = 3 * (v * width + u);
      if (interpolation === 'nearest') {
        const i = Math.floor(x);
        const j = Math.floor(y);
        if (i < 0 || j < 0 || i >= sw || j >= sh) continue;
        const s = 3 * (j * sw + i);
        dst[o] = src[s];
        dst[o + 1] = src[s + 1];
        dst[o + 2] = src[s + 2];
      } else {
        for (let ch = 0; ch < 3; ch++) dst[o + ch] = Math.round(bilinear(src, sw, sh, x - 0.5, y - 0.5, ch));
      }
    }
  }
  return out;
}

/** Bilinear value of channel ch at pixel-index position (px, py) (centres at integers), zero outside. */
function bilinear(src: Uint8Array, sw: number, sh: number, px: number, py: number, ch: number): number {
  const i0 = Math.floor(px);
  const j0 = Math.floor(py);
  const tx = px - i0;
  const ty = py - j0;
  const at = (i: number, j: number) => (i < 0 || j < 0 || i >= sw || j >= sh ? 0 : src[3 * (j * sw + i) + ch]);
  return (1 - ty) * ((1 - tx) * at(i0, j0) + tx * at(i0 + 1, j0)) + ty * ((1 - tx) * at(i0, j0 + 1) + tx * at(i0 + 1, j0 + 1));
}

/**
 * Bilinear warp straight into network input: planar NCHW float32 for one sample at `offset`,
 * each value (v - 127.5) / 128, where v is the zero-bordered bilinear pixel value.
 * Written out by hand (no helper per pixel) because this loop is the loader's hot path.
 */
export function warpToNormalizedChw(source: RgbImage, outputToSource: mat2d, size: number, out: Float32Array, offset: number): void {
  const [a, b, c, d, tx, ty] = outputToSource as ArrayLike<number> as number[];
  const { width: sw, height: sh, data: src } = source;
  const plane = size * size;
  const stride = 3 * sw;
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      // Source position in pixel-index units (pixel centres at integers).
      const px = a * (u + 0.5) + c * (v + 0.5) + tx - 0.5;
      const py = b * (u + 0.5) + d * (v + 0.5) + ty - 0.5;
      const i0 = Math.floor(px);
      const j0 = Math.floor(py);
      const fx = px - i0;
      const fy = py - j0;
      const w00 = (1 - fx) * (1 - fy);
      const w10 = fx * (1 - fy);
      const w01 = (1 - fx) * fy;
      const w11 = fx * fy;
      let r = 0;
      let g = 0;
      let bl = 0;
      if (i0 >= 0 && j0 >= 0 && i0 + 1 < sw && j0 + 1 < sh) {
        const s00 = j0 * stride + 3 * i0;
        const s01 = s00 + stride;
        r = w00 * src[s00] + w10 * src[s00 + 3] + w01 * src[s01] + w11 * src[s01 + 3];
        g = w00 * src[s00 + 1] + w10 * src[s00 + 4] + w01 * src[s01 + 1] + w11 * src[s01 + 4];
        bl = w00 * src[s00 + 2] + w10 * src[s00 + 5] + w01 * src[s01 + 2] + w11 * src[s01 + 5];
      } else if (i0 >= -1 && j0 >= -1 && i0 < sw && j0 < sh) {
        // Along the border some of the four neighbours lie outside and count as zero.
        const weights = [w00, w10, w01, w11];
        const corners = [[i0, j0], [i0 + 1, j0], [i0, j0 + 1], [i0 + 1, j0 + 1]];
        for (let k = 0; k < 4; k++) {
          const [i, j] = corners[k];
          if (i < 0 || j < 0 || i >= sw || j >= sh) continue;
          const s = j * stride + 3 * i;
          r += weights[k] * src[s];
          g += weights[k] * src[s + 1];
          bl += weights[k] * src[s + 2];
        }
      }
      const o = offset + v * size + u;
      out[o] = (r - 127.5) / 128;
      out[o + plane] = (g - 127.5) / 128;
      out[o + 2 * plane] = (bl - 127.5) / 128;
    }
  }
}

/** Applies a mat2d to x y interleaved points, into `out` (which may be the input). */
export function transformPoints(points: ArrayLike<number>, m: mat2d, out: Float32Array | Float64Array): void {
  const [a, b, c, d, tx, ty] = m as ArrayLike<number> as number[];
  for (let k = 0; k + 1 < points.length; k += 2) {
    const x = points[k];
    const y = points[k + 1];
    out[k] = a * x + c * y + tx;
    out[k + 1] = b * x + d * y + ty;
  }
}
