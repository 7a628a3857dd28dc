// A synthetic data set in the raw WFLW layout, so prepare -> train -> test runs with no download:
//   ROOT/WFLW_images/<k>--Synthetic/synth_<index>.png
//   ROOT/WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_{train,test}.txt
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { encodePng } from './image-io.ts';
import { writeFileAtomic } from '../nn/write-file-atomic.ts';
import { PREPARED_MARKER, prepareWflw } from './prepare.ts';
import { Random } from '../engine/random.ts';
import { drawSyntheticFace } from './synthetic-face.ts';
import { formatWflwLine, wflwAnnotationFile, type Split } from './wflw-annotations.ts';

export interface SyntheticOptions {
  /** Faces in all; the last `testCount` (or testFraction of them) form the test split. */
  count: number;
  testFraction?: number;
  seed?: number;
  /** Side of each square raw image, pixels. */
  size?: number;
  onProgress?: (done: number, total: number) => void;
}

export const SYNTHETIC_DEFAULTS = { testFraction: 0.25, seed: 1, size: 160 } as const;

/** Spreads faces over a few event folders, as WFLW does, so folder handling is exercised. */
const EVENT_FOLDERS = 4;

export function writeSyntheticWflw(root: string, options: SyntheticOptions): { train: number; test: number } {
  const { count } = options;
  const testFraction = options.testFraction ?? SYNTHETIC_DEFAULTS.testFraction;
  const seed = options.seed ?? SYNTHETIC_DEFAULTS.seed;
  const size = options.size ?? SYNTHETIC_DEFAULTS.size;
  if (!(Number.isInteger(count) && count >= 2)) throw new Error(`synthetic face count must be an integer of at least 2, got ${count}`);
  if (!(testFraction > 0 && testFraction < 1)) throw new Error(`test fraction must lie strictly between 0 and 1, got ${testFraction}`);
  const testCount = Math.min(count - 1, Math.max(1, Math.round(count * testFraction)));
  const lines: Record<Split, string[]> = { train: [], test: [] };
  for (let index = 0; index < count; index++) {
    // Each face has its own stream, so a face does not change when the count does.
    const face = drawSyntheticFace(new Random(seed, index), size);
    const imagePath = `${index % EVENT_FOLDERS}--Synthetic/synth_${String(index).padStart(6, '0')}.png`;
    writeFileAtomic(join(root, 'WFLW_images', imagePath), encodePng(face.image));
    lines[index < count - testCount ? 'train' : 'test'].push(formatWflwLine({ ...face, imagePath }));
    options.onProgress?.(index + 1, count);
  }
  for (const split of ['train', 'test'] as const) {
    writeFileAtomic(wflwAnnotationFile(root, split), lines[split].map((l) => l + '\n').join(''));
  }
  return { train: count - testCount, test: testCount };
}

export interface EnsureSyntheticOptions {
  train?: number;
  test?: number;
  seed?: number;
  size?: number;
  onProgress?: (stage: 'synth' | 'prepare', done: number, total: number) => void;
}

/**
 * Generates (once) a synthetic raw set and its WFLW256 crops under CACHE/synth-v2/, and returns the
 * prepared folder (holding train.txt, test.txt, test_<attribute>.txt). A finished folder has
 * prepared.json; an interrupted run is simply redone, keeping the files it already wrote.
 */
export function ensureSyntheticDataset(cacheDir: string, options: EnsureSyntheticOptions = {}): string {
  const train = options.train ?? 600;
  const test = options.test ?? 200;
  const seed = options.seed ?? SYNTHETIC_DEFAULTS.seed;
  const size = options.size ?? SYNTHETIC_DEFAULTS.size;
  const folder = resolve(cacheDir, 'synth-v2', `train${train}-test${test}-seed${seed}-size${size}`);
  const prepared = join(folder, 'wflw256');
  if (existsSync(join(prepared, PREPARED_MARKER))) return prepared;
  const raw = join(folder, 'raw');
  writeSyntheticWflw(raw, { count: train + test, testFraction: test / (train + test), seed, size, onProgress: (d, t) => options.onProgress?.('synth', d, t) });
  const report = prepareWflw({ wflwRoot: raw, outDir: prepared, interpolation: 'nearest', onProgress: (d, t) => options.onProgress?.('prepare', d, t) });
  if (report.problems.length > 0) throw new Error(`synthetic data set in ${raw} failed to prepare: ${report.problems[0].message}`);
  return prepared;
}
