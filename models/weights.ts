// The network a weights file holds, built and loaded in one call, whatever the file: a checkpoint
// of ours names its network in its metadata; a PyTorch state dict (.pth, or a plain safetensors
// file) carries no configuration, so its network is told by its tensor names (SepBN layers have
// bnN.bn.K.* entries, BatchNorm layers bnN.*, the baseline neither) and its width by the output
// channels of conv1.weight (64 / width). A --model or --width the user gives overrides either.
import { assignStateDict } from '../nn/state-dict.ts';
import { FORMAT_NAMES, readWeightsFile, type WeightsFile } from '../nn/weights-file.ts';
import { readCheckpointInfo, type RunState } from './checkpoint.ts';
import { inferNetwork, inferWidth } from './infer-network.ts';
import { buildModel, modelConfig, modelNameOf, type ModelName } from './registry.ts';
import type { VanillaCnn, VanillaCnnConfig } from './vanilla-cnn.ts';

export interface WeightsChoice {
  /** The network, when the user named it (--model); otherwise the file's metadata or its names decide. */
  model?: ModelName;
  /** The width divisor, when the user gave it (--width); otherwise the metadata or conv1.weight decide. */
  width?: number;
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
