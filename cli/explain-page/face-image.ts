/// <reference lib="dom" />
// A face image as the network sees it: 128x128 pixels, each channel normalised as the data loader
// does, (v - 127.5) / 128, in CHW order. A 256x256 image is taken for a crop from cli/prepare.js
// (or the synthetic faces the page server draws), whose central 128x128 is the face box; any other
// image is taken for the face box itself and resized to 128x128 by the browser.
import { INPUT_SIZE } from '../../models/vanilla-cnn.ts';

/** The side of cli/prepare.js's crops; the face box is their central half. */
const CROP_SIZE = 256;

export interface FaceImage {
  /** The 128x128 pixels the network gets. */
  canvas: HTMLCanvasElement;
  /** [3, 128, 128], normalised. */
  input: Float32Array;
  /** How the image became the input, for the page to say. */
  how: string;
}

export async function faceImage(blob: Blob, name: string): Promise<FaceImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    throw new Error(`${name}: not an image this browser can decode`);
  }
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = INPUT_SIZE;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new Error('this browser gives no 2D canvas to decode the image into');
  let how: string;
  if (bitmap.width === CROP_SIZE && bitmap.height === CROP_SIZE) {
    const offset = (CROP_SIZE - INPUT_SIZE) / 2;
    context.drawImage(bitmap, offset, offset, INPUT_SIZE, INPUT_SIZE, 0, 0, INPUT_SIZE, INPUT_SIZE);
    how = `${name}: a ${CROP_SIZE}x${CROP_SIZE} crop, whose central ${INPUT_SIZE}x${INPUT_SIZE} is the face box`;
  } else {
    context.drawImage(bitmap, 0, 0, INPUT_SIZE, INPUT_SIZE);
    how = `${name}: ${bitmap.width}x${bitmap.height}, taken for the face box and resized to ${INPUT_SIZE}x${INPUT_SIZE}`;
  }
  bitmap.close();
  const { data } = context.getImageData(0, 0, INPUT_SIZE, INPUT_SIZE);
  const plane = INPUT_SIZE * INPUT_SIZE;
  const input = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let channel = 0; channel < 3; channel++) input[channel * plane + p] = (data[4 * p + channel] - 127.5) / 128;
  }
  return { canvas, input, how };
}
