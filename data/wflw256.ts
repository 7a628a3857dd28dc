// The WFLW256 layout: one face a line, 98 x values, then 98 y values (pixels of the 256x256 crop),
// then the crop's image path, relative to the annotation file's folder or absolute.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { CROP_SIZE } from './face-crop.ts';
import { LANDMARK_COUNT } from './topology.ts';
import { SourceError } from './source-error.ts';
import { formatCoordinate } from './wflw-annotations.ts';

export const WFLW256_TOKENS_PER_LINE = 2 * LANDMARK_COUNT + 1;

/** How far outside the crop, in pixels, a coordinate may lie before the line is taken as corrupt rather than a face cut off at the edge. */
const CROP_REACH = 10 * CROP_SIZE;

export interface Wflw256Sample {
  /** Absolute path of the crop. */
  imageFile: string;
  /** x y interleaved, 196 values, crop pixels. */
  landmarksPx: Float64Array;
  /** Where the sample came from, for error messages. */
  file: string;
  line: number;
}

export function parseWflw256(text: string, file: string): Wflw256Sample[] {
  const folder = dirname(resolve(file));
  const samples: Wflw256Sample[] = [];
  text.split(/\r?\n/).forEach((content, i) => {
    if (content.trim() === '') return;
    const line = i + 1;
    const tokens = content.trim().split(/\s+/);
    if (tokens.length !== WFLW256_TOKENS_PER_LINE) {
      throw new SourceError(file, line, `expected ${WFLW256_TOKENS_PER_LINE} tokens (98 x, 98 y, image path), found ${tokens.length}`);
    }
    const landmarksPx = new Float64Array(2 * LANDMARK_COUNT);
    for (let k = 0; k < 2 * LANDMARK_COUNT; k++) {
      const value = Number(tokens[k]);
      if (!Number.isFinite(value)) throw new SourceError(file, line, `token ${k + 1} ("${tokens[k]}") is not a number`);
      // The file lists all x then all y; in memory points are interleaved.
      const point = k % LANDMARK_COUNT;
      if (value < -CROP_REACH || value > CROP_SIZE + CROP_REACH) {
        throw new SourceError(
          file,
          line,
          `token ${k + 1} (${k < LANDMARK_COUNT ? 'x' : 'y'} of landmark ${point}: ${tokens[k]}) lies more than ${CROP_REACH / CROP_SIZE} crop sizes outside the ${CROP_SIZE}x${CROP_SIZE} crop`,
        );
      }
      landmarksPx[2 * point + (k < LANDMARK_COUNT ? 0 : 1)] = value;
    }
    const path = tokens[WFLW256_TOKENS_PER_LINE - 1];
    samples.push({ imageFile: isAbsolute(path) ? path : resolve(folder, path), landmarksPx, file, line });
  });
  return samples;
}

export function readWflw256(file: string): Wflw256Sample[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SourceError(file, undefined, `cannot read annotation file (${(err as Error).message})`);
  }
  return parseWflw256(text, file);
}

/** One WFLW256 line from interleaved landmarks and the image path as it should appear in the file. */
export function formatWflw256Line(landmarksPx: ArrayLike<number>, imagePath: string): string {
  const xs: string[] = [];
  const ys: string[] = [];
  for (let p = 0; p < LANDMARK_COUNT; p++) {
    xs.push(formatCoordinate(landmarksPx[2 * p]));
    ys.push(formatCoordinate(landmarksPx[2 * p + 1]));
  }
  return [...xs, ...ys, imagePath].join(' ');
}
