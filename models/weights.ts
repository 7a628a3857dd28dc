// The network a weights file holds, built and loaded in one call, whatever the file: a checkpoint
// of ours names its network in its metadata; a PyTorch state dict (.pth, or a plain safetensors
// file) carries no configuration, so its network is told by its tensor names (SepBN layers have
// bnN.bn.K.* entries, BatchNorm layers bnN.*, the baseline neither) and its width by the output
// channels of conv1.weight (64 / width). A --model or --width the user gives overrides either.
import { SEPBN_DEFAULTS } from '../nn/layers/sep-batch-norm.ts';
import { assignStateDict, StateDictError } from '../nn/state-dict.ts';
import { FORMAT_NAMES, readWeightsFile, type WeightsFile } from '../nn/weights-file.ts';
import type { NamedArray } from '../nn/safetensors.ts';
import { readCheckpointInfo, type RunState } from './checkpoint.ts';
import { buildModel, modelConfig, modelNameOf, type ModelName } from './registry.ts';
import { FULL_CHANNELS, type VanillaCnn, type VanillaCnnConfig } from './vanilla-cnn.ts';

export interface WeightsChoice {
  /** The network, when the user named it (--model); otherwise the file's metadata or its names decide. */
  model?: ModelName;
  /** The width divisor, when the user gave it (--width); otherwise the metadata or conv1.weight decide. */
  width?: number;
}

/** The width divisor conv1.weight's output channels say (64 / width), with what it rests on. */
export function inferWidth(file: string, tensors: Map<string, NamedArray>): { width: number; evidence: string } {
  const conv1 = tensors.get('conv1.weight');
  const channels = conv1?.shape.length === 4 ? conv1.shape[0] : 0;
  // Every width divisor the network takes (1 to 64) leaves 64 / width output channels in conv1.
  if (!(channels >= 1 && FULL_CHANNELS[0] % channels === 0)) {
    const found = conv1 ? `conv1.weight is [${conv1.shape.join(',')}]` : 'there is no conv1.weight';
    throw new StateDictError(`${file}: ${found}, not [64/W,3,3,3] for a width divisor W of 1 to 64, so the network's width cannot be told from it: is it a state dict of these networks?`);
  }
  return { width: FULL_CHANNELS[0] / channels, evidence: `conv1.weight [${conv1!.shape.join(',')}]` };
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
  if (names.some((n) => /^bn\d+\.bn\.\d+\./.test(n))) {
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
  if (names.some((n) => /^bn\d+\./.test(n))) return { config: modelConfig('bn', width), evidence: 'its bnN.* names' };
  return { config: modelConfig('baseline', width), evidence: 'the absence of bnN.* names' };
}

export interface LoadedWeights {
  model: VanillaCnn;
  /** The run state a checkpoint of ours records (epoch, SepBN temperature ...); absent for a state dict without it. */
  state?: RunState;
  weights: WeightsFile;
  /** What the network and width were inferred from, when the file did not say and the user did not either. */
  evidence?: string;
}

/**
 * Builds the network `file` holds and loads it (every name and shape checked). `report` hears one
 * line when the file is a .pth or the network was inferred, saying what was read and decided.
 */
export function loadWeights(file: string, choice: WeightsChoice = {}, report?: (line: string) => void): LoadedWeights {
  const weights = readWeightsFile(file);
  const { config, state, evidence } = chooseConfig(file, weights, choice);
  const said = [...weights.notes, ...(evidence ? [evidence] : [])];
  if (report && (weights.format !== 'safetensors' || said.length > 0)) {
    report(`${file}: ${FORMAT_NAMES[weights.format]}, ${weights.tensors.size} tensors${said.length ? '; ' + said.join('; ') : ''}`);
  }
  const model = buildModel(config);
  assignStateDict(file, model, weights.tensors);
  return { model, state, weights, evidence };
}

/** The configuration to build: the user's choice over the checkpoint's metadata over what the file's tensors say. */
export function chooseConfig(file: string, weights: WeightsFile, choice: WeightsChoice): { config: VanillaCnnConfig; state?: RunState; evidence?: string } {
  if (weights.metadata.config !== undefined) {
    const saved = readCheckpointInfo(file);
    const name = choice.model ?? modelNameOf(saved.config);
    const width = choice.width ?? saved.config.width;
    const same = name === modelNameOf(saved.config) && width === saved.config.width;
    return { config: same ? saved.config : modelConfig(name, width), state: saved.state };
  }
  const inferred: string[] = [];
  let width = choice.width;
  if (width === undefined) {
    const found = inferWidth(file, weights.tensors);
    width = found.width;
    inferred.push(`width 1/${width} from ${found.evidence}`);
  }
  let config = choice.model === undefined ? undefined : modelConfig(choice.model, width);
  if (!config) {
    const found = inferNetwork(weights.tensors, width);
    config = found.config;
    inferred.unshift(`${modelNameOf(config)} from ${found.evidence}`);
  }
  return { config, evidence: inferred.length ? `inferred ${inferred.join(', ')}` : undefined };
}
