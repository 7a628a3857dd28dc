// One photograph as the network sees it: the 256x256 face crop (made from a face box exactly as
// cli/prepare.js makes it, or the image itself when it already is such a crop), and the map from
// crop pixels back to the photograph's own pixels, so predicted landmarks land on the photograph.
import { mat2d } from 'gl-matrix';
import { tensor } from '../engine/create.ts';
import { scope } from '../engine/scope.ts';
import { noGrad } from '../engine/tensor.ts';
import type { VanillaCnn } from '../models/vanilla-cnn.ts';
import { identityAffine } from './affine.ts';
import { augmentSample, CROP_FRAME, INPUT_SIZE, NO_AUGMENTATION } from './augment.ts';
import { TEST_CROP_OFFSET } from './evaluate.ts';
import { cropFace, cropRegion, sourceToCrop } from './face-crop.ts';
import type { RgbImage } from './rgb-image.ts';
import { LANDMARK_COUNT } from './topology.ts';
import { transformPoints, type Interpolation } from './warp.ts';

/** [xMin, yMin, xMax, yMax] in the photograph's pixels, as in the raw WFLW annotation files. */
export type FaceBox = readonly [number, number, number, number];

export interface FaceInput {
  /** The 256x256 crop the network's central 128 comes from. */
  crop: RgbImage;
  /** Crop pixels -> photograph pixels. */
  cropToImage: mat2d;
  /** Side of the (squared) face box in photograph pixels: what a drawing scales up to a readable size. */
  faceSidePx: number;
}

/**
 * An image that cannot be used as given: `needs` says what would make it usable, a face box (a
 * photograph given none) or no box (a prepared crop given one, which would be cropped a second
 * time and put every point on one eye). The message names no command's flags; a command adds its own.
 */
export class FaceInputError extends Error {
  constructor(message: string, readonly needs: 'box' | 'no box') {
    super(message);
    this.name = 'FaceInputError';
  }
}

/** The face box of a prepared crop in its own pixels: its central half, which cropping again leaves as it is. */
const CROP_FACE_BOX: FaceBox = [CROP_FRAME / 4, CROP_FRAME / 4, (3 * CROP_FRAME) / 4, (3 * CROP_FRAME) / 4];

/**
 * Without a box the image must already be a prepared 256 crop, whose face box is its central half;
 * a box on such a crop is refused unless it is that central half.
 */
export function faceInput(image: RgbImage, box: FaceBox | undefined, interpolation: Interpolation): FaceInput {
  const isCropSize = image.width === CROP_FRAME && image.height === CROP_FRAME;
  if (!box) {
    if (!isCropSize) throw new FaceInputError(`the image is ${image.width}x${image.height}, not a ${CROP_FRAME}x${CROP_FRAME} crop from cli/prepare.js, so it needs its face box`, 'box');
    return { crop: image, cropToImage: identityAffine(), faceSidePx: CROP_FRAME / 2 };
  }
  if (isCropSize && box.some((v, i) => v !== CROP_FACE_BOX[i])) {
    throw new FaceInputError(
      `the image is ${CROP_FRAME}x${CROP_FRAME}, a crop from cli/prepare.js whose face is already its central half, and the box ${box.join(',')} would crop it again ` +
        `(a photograph that happens to be ${CROP_FRAME}x${CROP_FRAME} must be padded or resized first)`,
      'no box',
    );
  }
  const region = cropRegion(box);
  const cropToImage = mat2d.invert(identityAffine(), sourceToCrop(region));
  if (!cropToImage) throw new Error(`face box ${box.join(',')} gives a singular crop transform`);
  const { image: crop } = cropFace(image, box, [], interpolation);
  return { crop, cropToImage, faceSidePx: region.size / 2 };
}

/** Maps x y interleaved crop pixels to the photograph's pixels. */
export function cropToImagePoints(input: FaceInput, cropPx: ArrayLike<number>): Float64Array {
  const out = new Float64Array(cropPx.length);
  transformPoints(cropPx, input.cropToImage, out);
  return out;
}

/**
 * Landmarks (x y interleaved, 256-crop pixels) for each crop, in eval mode on the central 128
 * crop: the same input and the same mapping back as the test set's (data/evaluate.ts).
 */
export async function predictCrops(model: VanillaCnn, crops: RgbImage[], batchSize = 16): Promise<Float64Array[]> {
  model.eval();
  const imageValues = 3 * INPUT_SIZE * INPUT_SIZE;
  const landmarkValues = 2 * LANDMARK_COUNT;
  const predictions: Float64Array[] = [];
  for (let start = 0; start < crops.length; start += batchSize) {
    const batch = crops.slice(start, start + batchSize);
    const images = new Float32Array(batch.length * imageValues);
    const unusedLandmarks = new Float32Array(batch.length * landmarkValues);
    batch.forEach((crop, k) => augmentSample(crop, new Float32Array(landmarkValues), NO_AUGMENTATION, images, k * imageValues, unusedLandmarks, k * landmarkValues));
    const values = await scope(() => noGrad(() => model.forward(tensor(images, [batch.length, 3, INPUT_SIZE, INPUT_SIZE], { label: 'images' })).toArray()));
    batch.forEach((_, k) => predictions.push(Float64Array.from(values.subarray(k * landmarkValues, (k + 1) * landmarkValues), (v) => v + TEST_CROP_OFFSET)));
  }
  return predictions;
}
