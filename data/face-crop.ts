// The 256x256 face crops the paper trains on: square the face box on its long side (rounded up to
// an even number of pixels), take the square region twice that size around the box centre, pad
// outside the image with zeros and resize to 256. The face box then fills the central half.
import { mat2d } from 'gl-matrix';
import type { RgbImage } from './rgb-image.ts';
import { affine, identityAffine } from './affine.ts';
import { transformPoints, warpRgb, type Interpolation } from './warp.ts';

export const CROP_SIZE = 256;

export interface CropRegion {
  /** Top-left corner of the square region, source pixels. */
  x0: number;
  y0: number;
  /** Side of the region, source pixels: twice the squared box side. */
  size: number;
}

export function cropRegion(box: readonly [number, number, number, number]): CropRegion {
  const [xMin, yMin, xMax, yMax] = box;
  const side = 2 * Math.ceil(Math.max(xMax - xMin, yMax - yMin) / 2);
  const centreX = (xMin + xMax) / 2;
  const centreY = (yMin + yMax) / 2;
  return { x0: centreX - side, y0: centreY - side, size: 2 * side };
}

/** The map from source pixels to crop pixels. */
export function sourceToCrop(region: CropRegion): mat2d {
  const scale = CROP_SIZE / region.size;
  return affine(scale, 0, 0, scale, -region.x0 * scale, -region.y0 * scale);
}

export interface FaceCrop {
  image: RgbImage;
  /** x y interleaved, crop pixels. */
  landmarksPx: Float64Array;
}

export function cropFace(source: RgbImage, box: readonly [number, number, number, number], landmarksPx: ArrayLike<number>, interpolation: Interpolation): FaceCrop {
  const forward = sourceToCrop(cropRegion(box));
  const inverse = mat2d.invert(identityAffine(), forward);
  if (!inverse) throw new Error('face box gives a singular crop transform');
  const moved = new Float64Array(landmarksPx.length);
  transformPoints(landmarksPx, forward, moved);
  return { image: warpRgb(source, inverse, CROP_SIZE, CROP_SIZE, interpolation), landmarksPx: moved };
}
