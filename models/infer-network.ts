// Which network a plain state dict holds (a .pth, or a safetensors file without our metadata): its
// width from conv1.weight's 64 / width output channels, its kind from its tensor names (registry.ts),
// and for SepBN its K, groups and attention ratio from the shapes. Shared by the commands'
// loadWeights (weights.ts) and the teaching page, so it imports nothing of Node.
import { SEPBN_DEFAULTS } from '../nn/layers/sep-batch-norm.ts';
import type { NamedArray } from '../nn/safetensors-format.ts';
import { StateDictError } from '../nn/state-dict-values.ts';
import { modelConfig, modelNameOfTensorNames, widthOfConv1 } from './registry.ts';
import type { VanillaCnnConfig } from './vanilla-cnn.ts';

/** The width divisor conv1.weight's output channels say (64 / width), with what it rests on. */
export function inferWidth(file: string, tensors: Map<string, NamedArray>): { width: number; evidence: string } {
  const conv1 = tensors.get('conv1.weight');
  const width = widthOfConv1(conv1?.shape);
  if (width === undefined) {
    const found = conv1 ? `conv1.weight is [${conv1.shape.join(',')}]` : 'there is no conv1.weight';
    throw new StateDictError(`${file}: ${found}, not [64/W,3,3,3] for a width divisor W of 1 to 64, so the network's width cannot be told from it: is it a state dict of these networks?`);
  }
  return { width, evidence: `conv1.weight [${conv1!.shape.join(',')}]` };
}

/**
 * The attention ratio R whose hidden widths max(1, floor(R x C)) are the bnN.fc1.weight shapes
 * [hidden, C, 1, 1] of every SepBN layer: the default when it fits, else the smallest that fits
 * (each layer bounds R to [hidden / C, (hidden + 1) / C), or below 2 / C where hidden is 1);
 * undefined when none does, and loading then names the mis-shaped tensors.
 */
function inferRatio(tensors: Map<string, NamedArray>, fallback: number): number | undefined {
  const layers = [...tensors].filter(([name, t]) => /^bn\d+\.fc1\.weight$/.test(name) && t.shape.length === 4).map(([, t]) => ({ hidden: t.shape[0], channels: t.shape[1] }));
  const fits = (ratio: number) => layers.every(({ hidden, channels }) => Math.max(1, Math.floor(ratio * channels)) === hidden);
  if (fits(fallback)) return fallback;
  const smallest = Math.max(...layers.map(({ hidden, channels }) => (hidden === 1 ? 0 : hidden / channels)));
  return smallest > 0 && fits(smallest) ? smallest : undefined;
}

/** The network a state dict's names say it is, at `width`: SepBN (with its K, groups and attention ratio), BatchNorm, or the baseline. */
export function inferNetwork(tensors: Map<string, NamedArray>, width: number): { config: VanillaCnnConfig; evidence: string } {
  const names = [...tensors.keys()];
  const model = modelNameOfTensorNames(names);
  if (model === 'sepbn') {
    const config = modelConfig('sepbn', width);
    // K from the first layer's sets (bn1.bn.0 .. bn1.bn.K-1), the reference's default where bn1 is missing.
    const sets = new Set(names.map((n) => /^bn1\.bn\.(\d+)\./.exec(n)?.[1]).filter((k) => k !== undefined));
    const K = sets.size || config.sepbn.K;
    const attentionOutputs = tensors.get('bn1.fc2.weight')?.shape[0] ?? K;
    const ratio = inferRatio(tensors, config.sepbn.ratio) ?? config.sepbn.ratio;
    config.sepbn = { ...config.sepbn, K, groups: attentionOutputs % K === 0 ? attentionOutputs / K : 1, ratio };
    const ratioNote = ratio === SEPBN_DEFAULTS.ratio ? '' : `, attention ratio ${ratio} from bnN.fc1.weight`;
    return { config, evidence: `its bnN.bn.K.* names (K = ${K})${ratioNote}` };
  }
  return { config: modelConfig(model, width), evidence: model === 'bn' ? 'its bnN.* names' : 'the absence of bnN.* names' };
}
