// Face boxes as a user gives them to cli/predict.js: "x0,y0,x1,y1" in the photograph's pixels, or
// "-" for an image that is already a crop from cli/prepare.js, one per image (on the command line,
// or a file of one line per image). Kept out of data/face-input.ts, which needs no file system.
import { readFileSync } from 'node:fs';
import type { FaceBox } from './face-input.ts';
import { SourceError } from './source-error.ts';

/**
 * One face box from text: four numbers x0,y0,x1,y1 (commas or spaces) with x1 > x0 and y1 > y0, or
 * "-" for an image that is a prepared crop and needs none. Throws an Error saying what is wrong.
 */
export function parseFaceBox(text: string): FaceBox | undefined {
  if (text.trim() === '-') return undefined;
  const tokens = text.trim().split(/[\s,]+/);
  const numbers = tokens.map(Number);
  if (tokens.length !== 4 || tokens.some((t) => t === '') || !numbers.every(Number.isFinite)) throw new Error(`expected four numbers x0,y0,x1,y1 (or - for a prepared crop), got "${text.trim()}"`);
  const [x0, y0, x1, y1] = numbers;
  if (!(x1 > x0 && y1 > y0)) throw new Error(`box ${numbers.join(',')}: x1 must exceed x0 and y1 must exceed y0`);
  return [x0, y0, x1, y1];
}

/** A file of face boxes, one line per image (parseFaceBox's forms; blank lines skipped), each error naming file and line. */
export function readFaceBoxes(file: string): Array<FaceBox | undefined> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SourceError(file, undefined, `cannot read face boxes (${(err as Error).message})`);
  }
  const boxes: Array<FaceBox | undefined> = [];
  text.split(/\r?\n/).forEach((content, i) => {
    if (content.trim() === '') return;
    try {
      boxes.push(parseFaceBox(content));
    } catch (err) {
      throw new SourceError(file, i + 1, (err as Error).message);
    }
  });
  return boxes;
}

