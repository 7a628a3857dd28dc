// Assembles one batch from WFLW256 samples: decode, one affine per sample, normalise. Runs the same
// on a worker thread or the calling thread; every random draw comes from the sample's own stream
// keyed by (seed, epoch, index), so the batch does not depend on where or in which order it is made.
import { augmentSample, CROP_FRAME, drawAugmentParams, INPUT_SIZE, NO_AUGMENTATION, type AugmentSettings } from './augment.ts';
import { readImage } from './image-io.ts';
import { Random } from '../engine/random.ts';
import { SourceError } from './source-error.ts';
import { LANDMARK_COUNT } from './topology.ts';
import type { Wflw256Sample } from './wflw256.ts';

export interface Batch {
  /** N x 3 x 128 x 128, NCHW, values (v - 127.5) / 128. */
  images: Float32Array;
  /** N x 196, x y interleaved, pixels of the 128x128 input. */
  landmarks: Float32Array;
  /** Indices of the samples in the annotation file (0-based, in file order). */
  indices: number[];
  /** Absolute image paths of the samples. */
  paths: string[];
}

export interface BatchRequest {
  indices: number[];
  epoch: number;
  seed: number;
  /** null: test mode, the plain central crop. */
  augment: AugmentSettings | null;
}

/** Separates the augmentation streams from the shuffling stream of the same (seed, epoch). */
export const AUGMENT_STREAM = 1;
export const SHUFFLE_STREAM = 2;

export const IMAGE_VALUES = 3 * INPUT_SIZE * INPUT_SIZE;
export const LANDMARK_VALUES = 2 * LANDMARK_COUNT;

export function assembleBatch(samples: readonly Wflw256Sample[], request: BatchRequest): Batch {
  const n = request.indices.length;
  const images = new Float32Array(n * IMAGE_VALUES);
  const landmarks = new Float32Array(n * LANDMARK_VALUES);
  request.indices.forEach((index, k) => {
    const sample = samples[index];
    const crop = readImage(sample.imageFile, `${sample.file}:${sample.line}`);
    if (crop.width !== CROP_FRAME || crop.height !== CROP_FRAME) {
      throw new SourceError(sample.file, sample.line, `${sample.imageFile} is ${crop.width}x${crop.height}; the loader expects ${CROP_FRAME}x${CROP_FRAME} crops from cli/prepare.js`);
    }
    const params = request.augment ? drawAugmentParams(new Random(AUGMENT_STREAM, request.seed, request.epoch, index), request.augment) : NO_AUGMENTATION;
    augmentSample(crop, sample.landmarksPx, params, images, k * IMAGE_VALUES, landmarks, k * LANDMARK_VALUES);
  });
  return { images, landmarks, indices: request.indices, paths: request.indices.map((i) => samples[i].imageFile) };
}
