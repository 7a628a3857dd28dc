// Training augmentation as ONE affine per sample, applied to image and landmarks together.
// In the 256x256 crop the face box is the central square [64, 192]^2. The map from crop pixels to
// the 128x128 network input is
//   M = T(64, 64) · F · R(θ) · Sh(shx, shy) · S(128 / box width, 128 / box height) · T(-box centre)
// where the box may be jittered per side (box perturbation), F mirrors x (flip), R rotates, Sh shears.
// With every transform off, M is the plain central 128 crop: a translation by -64.
import { mat2d } from 'gl-matrix';
import { affine, identityAffine } from './affine.ts';
import type { RgbImage } from './rgb-image.ts';
import type { Random } from '../engine/random.ts';
import { wflwTopology } from './topology.ts';
import { transformPoints, warpToNormalizedChw } from './warp.ts';

export const INPUT_SIZE = 128;
/** Side of the prepared crops the loader reads. */
export const CROP_FRAME = 256;

export interface AugmentSettings {
  /** Rotation drawn from U(-rotationDeg, rotationDeg) degrees. */
  rotationDeg: number;
  /** Shear drawn from U(-shear, shear) on each axis. */
  shear: number;
  /** Each box side moves by U(-boxJitter, boxJitter) times the box half-size. */
  boxJitter: number;
  /** Each transform (rotation, shear, box jitter, flip) is applied with this probability. */
  probability: number;
}

export const PAPER_AUGMENTATION: AugmentSettings = { rotationDeg: 25, shear: 0.3, boxJitter: 0.15, probability: 0.5 };

export interface AugmentParams {
  rotationRad: number;
  shearX: number;
  shearY: number;
  /** Side offsets [left, top, right, bottom] as fractions of the box half-size. */
  boxJitter: [number, number, number, number];
  flip: boolean;
}

export const NO_AUGMENTATION: AugmentParams = { rotationRad: 0, shearX: 0, shearY: 0, boxJitter: [0, 0, 0, 0], flip: false };

/** Draws the parameters in a fixed order, so a sample's stream gives the same transform everywhere. */
export function drawAugmentParams(rng: Random, settings: AugmentSettings): AugmentParams {
  const p = settings.probability;
  const rotate = rng.chance(p);
  const rotationDeg = rng.uniform(-settings.rotationDeg, settings.rotationDeg);
  const shear = rng.chance(p);
  const shearX = rng.uniform(-settings.shear, settings.shear);
  const shearY = rng.uniform(-settings.shear, settings.shear);
  const jitter = rng.chance(p);
  const boxJitter = [0, 0, 0, 0].map(() => rng.uniform(-settings.boxJitter, settings.boxJitter)) as AugmentParams['boxJitter'];
  const flip = rng.chance(p);
  return {
    rotationRad: rotate ? (rotationDeg * Math.PI) / 180 : 0,
    shearX: shear ? shearX : 0,
    shearY: shear ? shearY : 0,
    boxJitter: jitter ? boxJitter : [0, 0, 0, 0],
    flip,
  };
}

/** M: crop pixels (256 frame) -> network input pixels (128 frame). */
export function cropToInput(params: AugmentParams): mat2d {
  const half = CROP_FRAME / 4;
  const [jl, jt, jr, jb] = params.boxJitter;
  const left = half + jl * half;
  const top = half + jt * half;
  const right = 3 * half + jr * half;
  const bottom = 3 * half + jb * half;
  const m = identityAffine();
  mat2d.translate(m, m, [INPUT_SIZE / 2, INPUT_SIZE / 2]);
  if (params.flip) mat2d.scale(m, m, [-1, 1]);
  mat2d.rotate(m, m, params.rotationRad);
  mat2d.multiply(m, m, affine(1, params.shearY, params.shearX, 1, 0, 0));
  mat2d.scale(m, m, [INPUT_SIZE / (right - left), INPUT_SIZE / (bottom - top)]);
  mat2d.translate(m, m, [-(left + right) / 2, -(top + bottom) / 2]);
  return m;
}

/** Renumbers mirrored landmarks: after a flip, point i is the mirror image of its partner flip[i]. */
export function permuteForFlip<T extends Float32Array | Float64Array>(landmarksPx: T): T {
  const { flip } = wflwTopology();
  const source = landmarksPx.slice() as T;
  for (let i = 0; i < flip.length; i++) {
    landmarksPx[2 * i] = source[2 * flip[i]];
    landmarksPx[2 * i + 1] = source[2 * flip[i] + 1];
  }
  return landmarksPx;
}

/** Mirrors interleaved landmarks in a frame of the given width and renumbers them. */
export function flipLandmarks(landmarksPx: Float64Array, width: number): Float64Array {
  const mirrored = landmarksPx.slice();
  for (let k = 0; k < mirrored.length; k += 2) mirrored[k] = width - mirrored[k];
  return permuteForFlip(mirrored);
}

/**
 * Writes one sample: the warped, normalised image (NCHW, at imageOffset) and its landmarks in
 * 128-frame pixels (x y interleaved, at landmarkOffset).
 */
export function augmentSample(
  crop: RgbImage,
  landmarksPx: ArrayLike<number>,
  params: AugmentParams,
  images: Float32Array,
  imageOffset: number,
  landmarks: Float32Array,
  landmarkOffset: number,
): void {
  const forward = cropToInput(params);
  const inverse = mat2d.invert(identityAffine(), forward);
  if (!inverse) throw new Error('augmentation produced a singular transform');
  warpToNormalizedChw(crop, inverse, INPUT_SIZE, images, imageOffset);
  const moved = new Float32Array(landmarksPx.length);
  transformPoints(landmarksPx, forward, moved);
  if (params.flip) permuteForFlip(moved);
  landmarks.set(moved, landmarkOffset);
}
