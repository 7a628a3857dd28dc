// Landmarks predicted by any framework, scored as a network's are (cli/test.js --predictions). The
// predictions file holds one face a line, in the annotation file's order and frame, 196 numbers
// split by spaces or commas, in one of two layouts:
//   xy      x0 y0 x1 y1 ... x97 y97   points interleaved, as most code holds them
//   planar  x0 ... x97 y0 ... y97     all x, then all y, as WFLW256 annotation files list them
// A file read in the wrong layout still parses and scores (about 87 % NME on WFLW), so the other
// layout is scored too and a warning says when it fits far better. "nan" and "inf" are read: a
// framework that predicted a non-finite point writes them, and such a face scores as a failure
// (metrics.ts), as a network's NaN prediction does, rather than stopping the whole report.
// The annotation file is WFLW256 (cli/prepare.js's; the subsets are the test_<attribute>.txt files
// beside it) or raw WFLW (list_98pt_rect_attr_*.txt; the subsets are its six attribute flags).
import { readFileSync } from 'node:fs';
import { scoreFiles, setScore, type SetScore } from './evaluate.ts';
import { nmePerImage } from './metrics.ts';
import { subsetFilesBeside } from './prepare.ts';
import { SourceError } from './source-error.ts';
import { LANDMARK_COUNT } from './topology.ts';
import { ATTRIBUTES, readWflwAnnotations, WFLW_TOKENS_PER_LINE } from './wflw-annotations.ts';
import { readWflw256 } from './wflw256.ts';

export const PREDICTION_LAYOUTS = ['xy', 'planar'] as const;
export type PredictionLayout = (typeof PREDICTION_LAYOUTS)[number];

export function isPredictionLayout(value: unknown): value is PredictionLayout {
  return typeof value === 'string' && (PREDICTION_LAYOUTS as readonly string[]).includes(value);
}

const LAYOUT_WORDS: Record<PredictionLayout, string> = { xy: 'x y interleaved', planar: '98 x then 98 y' };

/** The name of the row that scores every face of the annotation file. */
export const ALL_FACES = 'predictions';

/**
 * How many times better the other layout's median NME must be before the warning: a file in the
 * right layout scores a few percent one way and near 100 % the other, while a poor model's file
 * scores badly both ways and must not draw the warning.
 */
const LAYOUT_WARNING_RATIO = 3;

/** A number, or NaN / +-Infinity from the words C, NumPy and PyTorch print for them; undefined for anything else. */
function parseToken(token: string): number | undefined {
  const word = /^([+-]?)(nan|inf|infinity)$/i.exec(token);
  if (word) return word[2].toLowerCase() === 'nan' ? NaN : word[1] === '-' ? -Infinity : Infinity;
  const value = Number(token);
  return token !== '' && Number.isFinite(value) ? value : undefined;
}

/** Each face's 196 numbers, in the order the file lists them; the file must hold one line per face. */
export function readPredictionRows(file: string, faces: number): Float64Array[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SourceError(file, undefined, `cannot read predictions (${(err as Error).message})`);
  }
  const lines = text.split(/\r?\n/).map((content, i) => ({ content: content.trim(), line: i + 1 })).filter(({ content }) => content !== '');
  if (lines.length !== faces) throw new SourceError(file, undefined, `${lines.length} lines of predictions, but the annotation file has ${faces} faces`);
  return lines.map(({ content, line }) => {
    const tokens = content.split(/[\s,]+/);
    if (tokens.length !== 2 * LANDMARK_COUNT) throw new SourceError(file, line, `expected ${2 * LANDMARK_COUNT} numbers (${LANDMARK_COUNT} points), found ${tokens.length}`);
    return Float64Array.from(tokens, (token, k) => {
      const value = parseToken(token);
      if (value === undefined) throw new SourceError(file, line, `value ${k + 1} ("${token}") is not a number (nan and inf are read, as a non-finite prediction)`);
      return value;
    });
  });
}

/** A row of the file as x y interleaved, the layout of everything in memory. */
export function interleaved(row: Float64Array, layout: PredictionLayout): Float64Array {
  if (layout === 'xy') return row;
  const out = new Float64Array(row.length);
  for (let p = 0; p < LANDMARK_COUNT; p++) {
    out[2 * p] = row[p];
    out[2 * p + 1] = row[LANDMARK_COUNT + p];
  }
  return out;
}

function concatenated(rows: Float64Array[]): Float64Array {
  const out = new Float64Array(rows.length * 2 * LANDMARK_COUNT);
  rows.forEach((row, i) => out.set(row, i * 2 * LANDMARK_COUNT));
  return out;
}

function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The warning to give when the rows fit the targets far better in the other layout; undefined when they do not. */
export function layoutWarning(file: string, rows: Float64Array[], targets: Float64Array[], layout: PredictionLayout): string | undefined {
  if (rows.length === 0) return undefined;
  const other: PredictionLayout = layout === 'xy' ? 'planar' : 'xy';
  const target = concatenated(targets);
  const [given, alternative] = [layout, other].map((l) => median(nmePerImage(concatenated(rows.map((r) => interleaved(r, l))), target)));
  if (!(alternative * LAYOUT_WARNING_RATIO < given)) return undefined;
  const percent = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(2)} %` : 'inf');
  return (
    `${file}: read as ${LAYOUT_WORDS[layout]} (--layout ${layout}) its faces score a median NME of ${percent(given)}, ` +
    `read as ${LAYOUT_WORDS[other]} ${percent(alternative)}; if the file is in that layout, give --layout ${other}`
  );
}

/** An annotation file's faces (x y interleaved, in the file's order) and how to score predictions for them, subsets included. */
export interface AnnotationsToScore {
  targets: Float64Array[];
  /** Every face, then each subset that has a face; `predicted` are x y interleaved, one per target. */
  score(predicted: Float64Array[]): SetScore[];
}

/** Reads a WFLW256 or raw WFLW annotation file, told apart by the tokens on its first line. */
export function readAnnotationsToScore(file: string): AnnotationsToScore {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SourceError(file, undefined, `cannot read annotation file (${(err as Error).message})`);
  }
  const firstLine = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  if (firstLine.trim().split(/\s+/).length !== WFLW_TOKENS_PER_LINE) {
    const samples = readWflw256(file);
    return {
      targets: samples.map((s) => s.landmarksPx),
      // Subset files name their faces by crop path, as the test set's do when a network is scored.
      score: (predicted) => scoreFiles(new Map(samples.map((s, i) => [s.imageFile, predicted[i]])), [{ name: ALL_FACES, file }, ...subsetFilesBeside(file)]),
    };
  }
  const { faces, problems } = readWflwAnnotations(file);
  // A face left out would pair every later line of predictions with the wrong face.
  if (problems.length > 0) {
    const [first] = problems;
    throw new SourceError(first.file, first.line, `${first.problem}${problems.length > 1 ? ` (and ${problems.length - 1} more malformed lines)` : ''}`);
  }
  return {
    targets: faces.map((f) => f.landmarksPx),
    score: (predicted) => {
      const nmes = nmePerImage(concatenated(predicted), concatenated(faces.map((f) => f.landmarksPx)));
      const subsets = ATTRIBUTES.map((name) => ({ name, nmes: nmes.filter((_, i) => faces[i].attributes[name]) })).filter((s) => s.nmes.length > 0);
      return [setScore(ALL_FACES, file, nmes), ...subsets.map((s) => setScore(s.name, file, s.nmes))];
    },
  };
}

/** Scores a predictions file against its annotation file; `warn` hears when the other layout fits far better. */
export function scorePredictions(predictionsFile: string, annotationFile: string, layout: PredictionLayout, warn: (message: string) => void): SetScore[] {
  const annotations = readAnnotationsToScore(annotationFile);
  const rows = readPredictionRows(predictionsFile, annotations.targets.length);
  const warning = layoutWarning(predictionsFile, rows, annotations.targets, layout);
  if (warning) warn(warning);
  return annotations.score(rows.map((row) => interleaved(row, layout)));
}
