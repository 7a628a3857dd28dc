// What a SepBN network's layers do on a test set: each layer's attention over its K parameter
// sets for every image, and its K sets of scale and shift. The attention is read inside each
// batch's memory scope, while the layer's `lastAttention` is still alive.
import { tensor } from '../engine/create.ts';
import { scope } from '../engine/scope.ts';
import { noGrad } from '../engine/tensor.ts';
import type { VanillaCnn } from '../models/vanilla-cnn.ts';
import { SepBatchNorm2d } from '../nn/layers/sep-batch-norm.ts';
import { INPUT_SIZE } from './augment.ts';
import { TEST_CROP_OFFSET } from './evaluate.ts';
import { WflwLoader } from './loader.ts';
import { LANDMARK_COUNT } from './topology.ts';

/** The SepBN layers with their state-dict names (bn1 ... bn6). */
export function namedSepBnLayers(model: VanillaCnn): Array<{ name: string; layer: SepBatchNorm2d }> {
  return model.namedModules().flatMap(([name, m]) => (m instanceof SepBatchNorm2d ? [{ name, layer: m }] : []));
}

export interface LayerAttention {
  name: string;
  channels: number;
  sets: number;
  groups: number;
  /** images x sets, row-major: the attention of each image, averaged over the channel groups. */
  weights: Float64Array;
}

export interface LayerParameters {
  name: string;
  channels: number;
  /** sets x channels, row-major: gamma_k and beta_k. */
  scales: Float64Array;
  shifts: Float64Array;
}

export async function sepBnParameters(model: VanillaCnn): Promise<LayerParameters[]> {
  return Promise.all(
    namedSepBnLayers(model).map(async ({ name, layer }) => {
      const rows = async (which: 'weight' | 'bias') => {
        const values = await Promise.all(layer.bn.sets.map((s) => s[which].toArray()));
        const out = new Float64Array(values.length * layer.channels);
        values.forEach((v, k) => out.set(v, k * layer.channels));
        return out;
      };
      return { name, channels: layer.channels, scales: await rows('weight'), shifts: await rows('bias') };
    }),
  );
}

/** Group-averaged attention (N, G, K) -> (N, K). */
function averageGroups(attention: ArrayLike<number>, images: number, groups: number, sets: number): Float64Array {
  const out = new Float64Array(images * sets);
  for (let n = 0; n < images; n++) {
    for (let g = 0; g < groups; g++) for (let k = 0; k < sets; k++) out[n * sets + k] += attention[(n * groups + g) * sets + k] / groups;
  }
  return out;
}

/**
 * Runs the model in eval mode over a WFLW256 file (the central 128 crops, as data/evaluate.ts) and
 * returns every SepBN layer's attention per image, in file order, and the predicted landmarks
 * in the file's frame keyed by image path (what scoreFiles takes).
 */
export async function collectSepBnAttention(
  model: VanillaCnn,
  annotationFile: string,
  options: { batchSize: number; workers?: number; onBatch?: (done: number, total: number) => void },
): Promise<{ layers: LayerAttention[]; predictions: Map<string, Float64Array> }> {
  model.eval();
  const named = namedSepBnLayers(model);
  const loader = new WflwLoader({ annotationFile, batchSize: options.batchSize, train: false, workers: options.workers });
  const perLayer = named.map(() => [] as Float64Array[]);
  const predictions = new Map<string, Float64Array>();
  try {
    let done = 0;
    for await (const batch of loader.epoch(0)) {
      const n = batch.indices.length;
      const landmarks = await scope(async () => {
        const output = noGrad(() => model.forward(tensor(batch.images, [n, 3, INPUT_SIZE, INPUT_SIZE], { label: 'images' })));
        for (const [i, { layer }] of named.entries()) {
          if (!layer.lastAttention) throw new Error(`${named[i].name} recorded no attention in its forward pass`);
          perLayer[i].push(averageGroups(await layer.lastAttention.toArray(), n, layer.config.groups, layer.config.K));
        }
        return output.toArray();
      });
      batch.paths.forEach((path, i) => {
        predictions.set(path, Float64Array.from(landmarks.subarray(i * 2 * LANDMARK_COUNT, (i + 1) * 2 * LANDMARK_COUNT), (v) => v + TEST_CROP_OFFSET));
      });
      options.onBatch?.(++done, loader.batchesPerEpoch);
    }
  } finally {
    await loader.close();
  }
  const layers = named.map(({ name, layer }, i) => {
    const weights = new Float64Array(perLayer[i].reduce((sum, a) => sum + a.length, 0));
    let offset = 0;
    for (const part of perLayer[i]) {
      weights.set(part, offset);
      offset += part.length;
    }
    return { name, channels: layer.channels, sets: layer.config.K, groups: layer.config.groups, weights };
  });
  return { layers, predictions };
}
