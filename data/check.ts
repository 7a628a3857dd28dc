// The check a training run makes of its files before the first step: both annotation lists parse
// and are non-empty, and every crop they name exists and has a PNG or JPEG header of the loader's
// size. Only headers (and a PNG's last 12 bytes) are read, so it takes seconds even for all of WFLW,
// and a bad test image is found now rather than after a whole training epoch.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { RunError } from '../models/run.ts';
import { CROP_FRAME } from './augment.ts';
import { SourceError } from './source-error.ts';
import { parseWflw256, type Wflw256Sample } from './wflw256.ts';

/** Problems listed one by one before the rest are only counted, so the message stays readable. */
export const LISTED_PROBLEMS = 20;

/** Every problem found in a run's files; the message lists them, each with annotation file and line. A RunError: what the run was given is wrong. */
export class DataCheckError extends RunError {
  constructor(readonly problems: SourceError[]) {
    const listed = problems.slice(0, LISTED_PROBLEMS).map((p) => `  ${p.message}`);
    const more = problems.length > LISTED_PROBLEMS ? [`  ... and ${problems.length - LISTED_PROBLEMS} more`] : [];
    super([`the data has ${problems.length} problem${problems.length === 1 ? '' : 's'}; fix ${problems.length === 1 ? 'it' : 'them'} (or run cli/prepare.js again) before training:`, ...listed, ...more].join('\n'));
    this.name = 'DataCheckError';
  }
}

/** Throws a DataCheckError naming every bad line and image of the annotation files (train.txt, test.txt). */
export function checkRunData(files: { train: string; test: string }): void {
  const problems: SourceError[] = [];
  for (const file of [files.train, files.test]) {
    if (checkList(file, problems) === 0) problems.push(new SourceError(file, undefined, 'no faces: the list is empty'));
  }
  if (problems.length > 0) throw new DataCheckError(problems);
}

/** Adds the problems of one list, in line order, and returns its number of faces; undefined when the file cannot be read. */
function checkList(file: string, problems: SourceError[]): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(new SourceError(file, undefined, `cannot read annotation file (${(err as Error).message})`));
    return undefined;
  }
  let faces = 0;
  text.split(/\r?\n/).forEach((content, i) => {
    if (content.trim() === '') return;
    faces++;
    let samples: Wflw256Sample[];
    try {
      // One line at a time, so that every malformed line is found, not just the first.
      samples = parseWflw256(content, file);
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      // The parser saw a one-line text: put the real line number in.
      problems.push(new SourceError(file, i + 1, err.problem));
      return;
    }
    for (const sample of samples) {
      const problem = imageProblem(sample.imageFile);
      if (problem) problems.push(new SourceError(file, i + 1, `${sample.imageFile}: ${problem}`));
    }
  });
  return faces;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** A PNG ends with the empty IEND chunk: length 0, type, CRC. Its absence means a truncated file. */
const PNG_END = [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];

/** What is wrong with an image file, judged from its header; undefined when nothing is. */
export function imageProblem(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'no such file' : `cannot open (${(err as Error).message})`;
  }
  try {
    const size = fstatSync(fd).size;
    const read = (position: number, length: number): Uint8Array => {
      const bytes = new Uint8Array(length);
      return bytes.subarray(0, readSync(fd, bytes, 0, length, position));
    };
    const head = read(0, 24);
    if (head.length === 0) return 'the file is empty';
    let dimensions: { width: number; height: number } | string;
    if (startsWith(head, PNG_SIGNATURE)) {
      // IHDR is always the first chunk: width and height are big-endian at bytes 16 and 20.
      if (head.length < 24 || String.fromCharCode(...head.subarray(12, 16)) !== 'IHDR') return 'corrupt PNG: no IHDR header';
      const view = new DataView(head.buffer);
      dimensions = { width: view.getUint32(16), height: view.getUint32(20) };
      if (!startsWith(read(size - PNG_END.length, PNG_END.length), PNG_END)) return 'truncated PNG: it does not end with an IEND chunk';
    } else if (head[0] === 0xff && head[1] === 0xd8) {
      dimensions = jpegDimensions(read, size);
      if (typeof dimensions === 'string') return `corrupt JPEG: ${dimensions}`;
    } else {
      return 'not a PNG or JPEG file (unrecognised signature)';
    }
    if (dimensions.width !== CROP_FRAME || dimensions.height !== CROP_FRAME) {
      return `is ${dimensions.width}x${dimensions.height}; the loader expects ${CROP_FRAME}x${CROP_FRAME} crops from cli/prepare.js`;
    }
    return undefined;
  } catch (err) {
    return `cannot read (${(err as Error).message})`;
  } finally {
    closeSync(fd);
  }
}

function startsWith(bytes: Uint8Array, signature: number[]): boolean {
  return bytes.length >= signature.length && signature.every((b, i) => bytes[i] === b);
}

/** Walks the JPEG segments to the frame header (SOFn) and reads its size, or says why it cannot. */
function jpegDimensions(read: (position: number, length: number) => Uint8Array, size: number): { width: number; height: number } | string {
  let position = 2;
  while (position < size) {
    const segment = read(position, 9);
    if (segment.length < 2 || segment[0] !== 0xff) return `no segment marker at byte ${position}`;
    const marker = segment[1];
    // 0xff is padding before a marker; TEM and RSTn stand alone, without a length.
    if (marker === 0xff) position++;
    else if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) position += 2;
    else if (marker === 0xd9 || marker === 0xda) return 'no frame header before the image data';
    else if (segment.length < 4) break;
    // SOF0..SOF15, except DHT (c4), JPG (c8) and DAC (cc), which share the range.
    else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (segment.length < 9) break;
      return { height: (segment[5] << 8) | segment[6], width: (segment[7] << 8) | segment[8] };
    } else position += 2 + ((segment[2] << 8) | segment[3]);
  }
  return 'truncated before the frame header';
}
