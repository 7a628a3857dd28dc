// A fast path for the PNGs the loader reads most: 8-bit, non-interlaced grey, RGB or RGBA. pngjs
// unfilters through generic per-pixel callbacks and always widens to RGBA; unfiltering straight into
// the scanline buffer is several times faster, and decoding is the loader's largest cost.
// Returns undefined for any other PNG variant, which the caller hands to pngjs.
import { inflateSync } from 'node:zlib';
import type { RgbImage } from './rgb-image.ts';

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 6: 4 };

export function decodeSimplePng(bytes: Uint8Array): RgbImage | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  while (offset + 8 <= bytes.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(bytes[offset + 4], bytes[offset + 5], bytes[offset + 6], bytes[offset + 7]);
    const data = offset + 8;
    if (data + length + 4 > bytes.length) throw new Error(`PNG chunk ${type} runs past the end of the file (truncated?)`);
    if (type === 'IHDR') {
      width = view.getUint32(data);
      height = view.getUint32(data + 4);
      const bitDepth = bytes[data + 8];
      const colourType = bytes[data + 9];
      const interlace = bytes[data + 12];
      if (bitDepth !== 8 || interlace !== 0 || !(colourType in CHANNELS)) return undefined;
      channels = CHANNELS[colourType];
    } else if (type === 'IDAT') {
      idat.push(bytes.subarray(data, data + length));
    } else if (type === 'IEND') {
      break;
    }
    offset = data + length + 4;
  }
  if (channels === 0 || width === 0 || height === 0) throw new Error('PNG has no valid IHDR chunk');
  if (idat.length === 0) throw new Error('PNG has no image data (IDAT)');
  const stride = width * channels;
  const raw = inflateSync(Buffer.concat(idat));
  if (raw.length < height * (stride + 1)) throw new Error(`PNG image data holds ${raw.length} bytes, ${height * (stride + 1)} expected (truncated?)`);
  unfilter(raw, width, height, channels);
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1) + 1;
    const out = y * width * 3;
    if (channels === 3) {
      rgb.set(raw.subarray(row, row + stride), out);
      continue;
    }
    for (let x = 0; x < width; x++) {
      const s = row + x * channels;
      const o = out + 3 * x;
      rgb[o] = raw[s];
      rgb[o + 1] = raw[channels === 1 ? s : s + 1];
      rgb[o + 2] = raw[channels === 1 ? s : s + 2];
    }
  }
  return { width, height, data: rgb };
}

/** Undoes the per-scanline filters in place (PNG spec, section 9: None, Sub, Up, Average, Paeth). */
function unfilter(raw: Uint8Array, width: number, height: number, bpp: number): void {
  const stride = width * bpp;
  for (let y = 0; y < height; y++) {
    const start = y * (stride + 1);
    const filter = raw[start];
    const row = start + 1;
    const prior = row - (stride + 1); // the previous row's first byte; only read when y > 0
    switch (filter) {
      case 0:
        break;
      case 1:
        for (let i = bpp; i < stride; i++) raw[row + i] = (raw[row + i] + raw[row + i - bpp]) & 255;
        break;
      case 2:
        if (y > 0) for (let i = 0; i < stride; i++) raw[row + i] = (raw[row + i] + raw[prior + i]) & 255;
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const left = i >= bpp ? raw[row + i - bpp] : 0;
          const up = y > 0 ? raw[prior + i] : 0;
          raw[row + i] = (raw[row + i] + ((left + up) >> 1)) & 255;
        }
        break;
      case 4:
        // The first pixel has no left neighbour (Paeth reduces to Up); the rest take the full predictor.
        for (let i = 0; i < bpp; i++) raw[row + i] = (raw[row + i] + (y > 0 ? raw[prior + i] : 0)) & 255;
        if (y === 0) {
          for (let i = bpp; i < stride; i++) raw[row + i] = (raw[row + i] + raw[row + i - bpp]) & 255;
          break;
        }
        for (let i = bpp; i < stride; i++) {
          const a = raw[row + i - bpp];
          const b = raw[prior + i];
          const c = raw[prior + i - bpp];
          const pa = b > c ? b - c : c - b;
          const pb = a > c ? a - c : c - a;
          const pc = a + b - 2 * c > 0 ? a + b - 2 * c : 2 * c - a - b;
          raw[row + i] = (raw[row + i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
        }
        break;
      default:
        throw new Error(`PNG scanline ${y} has unknown filter type ${filter}`);
    }
  }
}
