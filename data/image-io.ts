// Reading JPEG and PNG files into RgbImage, and encoding PNG.
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { decodeSimplePng } from './png-decode.ts';
import type { RgbImage } from './rgb-image.ts';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47];
const JPEG_SIGNATURE = [0xff, 0xd8];

function startsWith(bytes: Uint8Array, signature: number[]): boolean {
  return signature.every((b, i) => bytes[i] === b);
}

/** Decodes PNG or JPEG bytes (recognised by their signature, not the file name). Throws on corrupt data. */
export function decodeImage(bytes: Uint8Array): RgbImage {
  if (startsWith(bytes, PNG_SIGNATURE)) {
    const simple = decodeSimplePng(bytes);
    if (simple) return simple;
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    // pngjs always hands back 8-bit RGBA; drop alpha.
    const rgb = new Uint8Array(png.width * png.height * 3);
    for (let p = 0, q = 0; q < rgb.length; p += 4, q += 3) {
      rgb[q] = png.data[p];
      rgb[q + 1] = png.data[p + 1];
      rgb[q + 2] = png.data[p + 2];
    }
    return { width: png.width, height: png.height, data: rgb };
  }
  if (startsWith(bytes, JPEG_SIGNATURE)) {
    const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
    if (decoded.data.length !== decoded.width * decoded.height * 3) throw new Error('JPEG decoded to an unexpected size');
    return { width: decoded.width, height: decoded.height, data: decoded.data };
  }
  throw new Error('not a PNG or JPEG file (unrecognised signature)');
}

/** Reads and decodes an image file; the error names the file and, when given, the annotation line that referred to it. */
export function readImage(file: string, referencedFrom?: string): RgbImage {
  const where = referencedFrom ? ` (referenced from ${referencedFrom})` : '';
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${file}: cannot read image${code === 'ENOENT' ? ': no such file' : `: ${(err as Error).message}`}${where}`);
  }
  try {
    return decodeImage(bytes);
  } catch (err) {
    throw new Error(`${file}: corrupt or unsupported image: ${(err as Error).message}${where}`);
  }
}

export function encodePng(image: RgbImage): Buffer {
  const png = new PNG({ width: image.width, height: image.height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  // One fixed filter (Paeth) instead of pngjs's per-row trial of all five: half the encoding time for the
  // same size on photographs and synthetic faces alike.
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false, deflateLevel: 6, filterType: 4 });
}
