// Scoring a network on WFLW256 annotation files: predictions in eval mode (no augmentation, the
// central 128 crop), then NME by inter-ocular distance, FR@0.1 and AUC@0.1 per file. Each image
// is predicted once even when it appears in several files (the test set and its subsets).
import { tensor } from '../engine/create.ts';
import { scope } from '../engine/scope.ts';
import { noGrad } from '../engine/tensor.ts';
import type { VanillaCnn } from '../models/vanilla-cnn.ts';
import { CROP_FRAME, INPUT_SIZE } from './augment.ts';
import { WflwLoader } from './loader.ts';
import { nmePerImage, summarizeNme, type NmeSummary } from './metrics.ts';
import { readWflw256 } from './wflw256.ts';
import { LANDMARK_COUNT } from './topology.ts';

/** Numbers per face: x y interleaved. */
const COORDINATES = 2 * LANDMARK_COUNT;

/** The test crop is the central 128 of the 256 crop: add this to map 128-frame pixels to the file's frame. */
export const TEST_CROP_OFFSET = (CROP_FRAME - INPUT_SIZE) / 2;

export interface SetScore extends NmeSummary {
  name: string;
  file: string;
  /** Per-image NME, in the file's order (for CED curves). */
  nmes: Float64Array;
}

/** Landmarks the model predicts for every face of a WFLW256 file, in the file's frame, keyed by image path. */
export async function predictFile(model: VanillaCnn, annotationFile: string, options: { batchSize: number; workers?: number; onBatch?: (done: number, total: number) => void }): Promise<Map<string, Float64Array>> {
  model.eval();
  const loader = new WflwLoader({ annotationFile, batchSize: options.batchSize, train: false, workers: options.workers });
  const predictions = new Map<string, Float64Array>();
  try {
    let done = 0;
    for await (const batch of loader.epoch(0)) {
      const n = batch.indices.length;
      const values = await scope(() =>
        noGrad(() => model.forward(tensor(batch.images, [n, 3, INPUT_SIZE, INPUT_SIZE], { label: 'images' })).toArray()),
      );
      batch.paths.forEach((path, i) => {
        predictions.set(path, Float64Array.from(values.subarray(i * COORDINATES, (i + 1) * COORDINATES), (v) => v + TEST_CROP_OFFSET));
      });
      options.onBatch?.(++done, loader.batchesPerEpoch);
    }
  } finally {
    await loader.close();
  }
  return predictions;
}

/** One set's score from its faces' NMEs, in the set's order. */
export function setScore(name: string, file: string, nmes: Float64Array): SetScore {
  return { name, file, nmes, ...summarizeNme(nmes) };
}

/** Scores predictions (keyed by image path) against each annotation file. */
export function scoreFiles(predictions: Map<string, Float64Array>, sets: Array<{ name: string; file: string }>): SetScore[] {
  return sets.map(({ name, file }) => {
    const samples = readWflw256(file);
    const predicted = new Float64Array(samples.length * COORDINATES);
    const target = new Float64Array(samples.length * COORDINATES);
    samples.forEach((s, i) => {
      const p = predictions.get(s.imageFile);
      if (!p) throw new Error(`${file}:${s.line}: no prediction for ${s.imageFile}`);
      predicted.set(p, i * COORDINATES);
      target.set(s.landmarksPx, i * COORDINATES);
    });
    return setScore(name, file, nmePerImage(predicted, target));
  });
}
