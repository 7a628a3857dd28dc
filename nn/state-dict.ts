// Saving and loading a module's state dict as safetensors files, with PyTorch's names: every name
// and shape is checked (state-dict-values.ts, whose names are re-exported here), and a mismatch
// says exactly which tensors are missing, extra or mis-shaped.
import type { Module } from './module.ts';
import { writeSafetensors } from './safetensors.ts';
import { assignStateDict, toNamedArrays } from './state-dict-values.ts';
import { readWeightsFile } from './weights-file.ts';

export { assignStateDict, checkNames, StateDictError, toNamedArrays } from './state-dict-values.ts';

export async function saveStateDict(file: string, module: Module, metadata: Record<string, string> = {}): Promise<void> {
  writeSafetensors(file, await toNamedArrays(module.stateDict()), metadata);
}

/** Loads weights and buffers into the module in place from safetensors or a PyTorch .pth (weights-file.ts); returns the file's metadata. */
export function loadStateDict(file: string, module: Module): Record<string, string> {
  const { tensors, metadata } = readWeightsFile(file);
  assignStateDict(file, module, tensors);
  return metadata;
}
