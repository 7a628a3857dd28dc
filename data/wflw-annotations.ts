// The raw WFLW annotation files: list_98pt_rect_attr_{train,test}.txt, one face per line, 207 tokens:
// 98 interleaved "x y" pairs, the face box "x_min y_min x_max y_max", six 0/1 attribute flags and
// the image path relative to WFLW_images.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LANDMARK_COUNT } from './topology.ts';
import { SourceError } from './source-error.ts';

export const ATTRIBUTES = ['pose', 'expression', 'illumination', 'makeup', 'occlusion', 'blur'] as const;
export type Attribute = (typeof ATTRIBUTES)[number];

export const WFLW_TOKENS_PER_LINE = 2 * LANDMARK_COUNT + 4 + ATTRIBUTES.length + 1;

export type Split = 'train' | 'test';

export interface WflwFace {
  /** x y interleaved, 196 values, in source-image pixels. */
  landmarksPx: Float64Array;
  /** [x_min, y_min, x_max, y_max] in source-image pixels. */
  box: [number, number, number, number];
  attributes: Record<Attribute, boolean>;
  /** Relative to WFLW_images, e.g. "51--Dresses/51_Dresses_wearingdress_51_377.jpg". */
  imagePath: string;
  file: string;
  line: number;
}

export function wflwAnnotationFile(root: string, split: Split): string {
  return join(root, 'WFLW_annotations', 'list_98pt_rect_attr_train_test', `list_98pt_rect_attr_${split}.txt`);
}

export function wflwImageFile(root: string, face: WflwFace): string {
  return join(root, 'WFLW_images', face.imagePath);
}

/** Parses one line; throws a SourceError naming file and line when it is malformed. */
export function parseWflwLine(text: string, file: string, line: number): WflwFace {
  const tokens = text.trim().split(/\s+/);
  if (tokens.length !== WFLW_TOKENS_PER_LINE) {
    throw new SourceError(file, line, `expected ${WFLW_TOKENS_PER_LINE} tokens (196 landmark coordinates, 4 box, 6 flags, image path), found ${tokens.length}`);
  }
  const numbers = new Float64Array(WFLW_TOKENS_PER_LINE - 1);
  for (let i = 0; i < numbers.length; i++) {
    const value = Number(tokens[i]);
    if (tokens[i] === '' || !Number.isFinite(value)) {
      throw new SourceError(file, line, `token ${i + 1} ("${tokens[i]}") is not a number`);
    }
    numbers[i] = value;
  }
  const flagsStart = 2 * LANDMARK_COUNT + 4;
  const attributes = {} as Record<Attribute, boolean>;
  ATTRIBUTES.forEach((name, k) => {
    const flag = numbers[flagsStart + k];
    if (flag !== 0 && flag !== 1) throw new SourceError(file, line, `attribute flag ${name} (token ${flagsStart + k + 1}) must be 0 or 1, found ${tokens[flagsStart + k]}`);
    attributes[name] = flag === 1;
  });
  const b = 2 * LANDMARK_COUNT;
  const box: WflwFace['box'] = [numbers[b], numbers[b + 1], numbers[b + 2], numbers[b + 3]];
  if (!(box[2] > box[0] && box[3] > box[1])) throw new SourceError(file, line, `face box ${box.join(' ')} is empty (need x_max > x_min and y_max > y_min)`);
  checkLandmarkReach(numbers, box, file, line);
  return { landmarksPx: numbers.slice(0, b), box, attributes, imagePath: tokens[WFLW_TOKENS_PER_LINE - 1], file, line };
}

/**
 * How far from its face box, in box sizes, a landmark may lie. The image's own size is not known
 * until it is decoded, so the box is the scale: real landmarks sit in or just around it, and a
 * point 10 box sizes away is a corrupt line (a unit slip, a lost decimal point), not a face.
 */
export const LANDMARK_REACH_BOX_SIZES = 10;

function checkLandmarkReach(numbers: Float64Array, box: WflwFace['box'], file: string, line: number): void {
  const margin = LANDMARK_REACH_BOX_SIZES * Math.max(box[2] - box[0], box[3] - box[1]);
  for (let p = 0; p < LANDMARK_COUNT; p++) {
    const x = numbers[2 * p];
    const y = numbers[2 * p + 1];
    if (x < box[0] - margin || x > box[2] + margin || y < box[1] - margin || y > box[3] + margin) {
      throw new SourceError(file, line, `landmark ${p} (${x}, ${y}) lies more than ${LANDMARK_REACH_BOX_SIZES} face-box sizes outside the face box ${box.join(' ')}`);
    }
  }
}

export interface ParsedAnnotations {
  faces: WflwFace[];
  /** Malformed lines, each naming its file and line; empty when the file is clean. */
  problems: SourceError[];
}

/** Parses a whole file, collecting malformed lines instead of stopping at the first. Blank lines are skipped. */
export function parseWflwAnnotations(text: string, file: string): ParsedAnnotations {
  const faces: WflwFace[] = [];
  const problems: SourceError[] = [];
  text.split(/\r?\n/).forEach((content, i) => {
    if (content.trim() === '') return;
    try {
      faces.push(parseWflwLine(content, file, i + 1));
    } catch (err) {
      if (err instanceof SourceError) problems.push(err);
      else throw err;
    }
  });
  return { faces, problems };
}

export function readWflwAnnotations(file: string): ParsedAnnotations {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SourceError(file, undefined, `cannot read annotation file (${(err as Error).message})`);
  }
  return parseWflwAnnotations(text, file);
}

/** Formats a face as a raw WFLW line (used by the synthetic generator). */
export function formatWflwLine(face: Pick<WflwFace, 'landmarksPx' | 'box' | 'attributes' | 'imagePath'>): string {
  const numbers = [...face.landmarksPx, ...face.box].map(formatCoordinate);
  const flags = ATTRIBUTES.map((name) => (face.attributes[name] ? '1' : '0'));
  return [...numbers, ...flags, face.imagePath].join(' ');
}

/** Coordinates to 1e-4 px, trailing zeros dropped: exact enough, and files stay readable. */
export function formatCoordinate(value: number): string {
  return String(Number(value.toFixed(4)));
}
