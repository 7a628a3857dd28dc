// A checkpoint's bytes (from the page's file picker) as a Vanilla CNN in eval mode: the model's
// configuration from the file's metadata, as models/checkpoint.ts writes it, or, for a plain state
// dict (e.g. converted from PyTorch), read off its tensors' names and shapes as the commands do
// (models/infer-network.ts); then every weight and buffer assigned with nn/state-dict-values.ts's
// checks.
import { inferNetwork, inferWidth } from '../../models/infer-network.ts';
import { VanillaCnn, type VanillaCnnConfig } from '../../models/vanilla-cnn.ts';
import { Counter } from '../../nn/module.ts';
import { parseSafetensors, type NamedArray } from '../../nn/safetensors-format.ts';
import { assignStateDict } from '../../nn/state-dict-values.ts';

export interface LoadedCheckpoint {
  model: VanillaCnn;
  /** Where the configuration came from, for the page to say. */
  configSource: 'metadata' | 'tensor names and shapes';
  temperature: number;
}

function configFrom(file: string, metadata: Record<string, string>, tensors: Map<string, NamedArray>): { config: VanillaCnnConfig; source: LoadedCheckpoint['configSource'] } {
  if (metadata.config === undefined) return { config: inferNetwork(tensors, inferWidth(file, tensors).width).config, source: 'tensor names and shapes' };
  let config: VanillaCnnConfig;
  try {
    config = JSON.parse(metadata.config);
  } catch (err) {
    throw new Error(`${file}: corrupt checkpoint metadata: field "config" is not JSON (${(err as Error).message})`);
  }
  if (!['none', 'bn', 'sepbn'].includes(config?.norm) || typeof config.width !== 'number') {
    throw new Error(`${file}: checkpoint metadata field "config" is not a Vanilla CNN configuration: ${metadata.config}`);
  }
  return { config, source: 'metadata' };
}

/** Frees a model's weights and buffers (kept tensors outlive every scope), e.g. when another checkpoint replaces it. */
export function disposeModel(model: VanillaCnn): void {
  for (const [, slot] of model.stateDict()) if (!(slot instanceof Counter)) slot.dispose();
}

/** Builds the model on the current backend and loads the file into it. */
export function loadCheckpoint(file: string, bytes: Uint8Array): LoadedCheckpoint {
  const { tensors, metadata } = parseSafetensors(bytes, file);
  const { config, source } = configFrom(file, metadata, tensors);
  const model = new VanillaCnn(config);
  try {
    assignStateDict(file, model, tensors);
  } catch (err) {
    disposeModel(model);
    throw err;
  }
  model.eval();
  // The temperature the network was last trained at, as the checkpoint records it.
  const temperature = Number(metadata.temperature ?? config.sepbn?.temperature ?? 1);
  if (!(temperature > 0)) {
    disposeModel(model);
    throw new Error(`${file}: checkpoint metadata field "temperature" is ${metadata.temperature}, not a number above 0`);
  }
  model.temperature = temperature;
  return { model, configSource: source, temperature };
}
