// Checkpoints: the model's state dict as a safetensors file with PyTorch's names (so PyTorch loads
// it with safetensors.torch.load_file), the run's state in its metadata, and the optimizer's
// state in a companion file NAME.optim.safetensors. Each file is written to a temporary name and
// renamed; the optimizer file is written first, so a weights file always has its optimizer state.
import { existsSync } from 'node:fs';
import { readSafetensors, writeSafetensors } from '../nn/safetensors.ts';
import { loadStateDict, toNamedArrays } from '../nn/state-dict.ts';
import type { Optimizer } from '../nn/optim/optimizer.ts';
import type { VanillaCnn, VanillaCnnConfig } from './vanilla-cnn.ts';

export interface RunState {
  /** Epochs fully done. */
  epoch: number;
  /** Batches done in the epoch under way (0 at an epoch boundary). */
  batchInEpoch: number;
  /** Optimizer steps done in the whole run. */
  step: number;
  temperature: number;
  /** Step losses of the epoch under way so far (sum, count), so its logged mean covers all of it. */
  epochLoss: { sum: number; count: number };
  /** Everything needed to rebuild the run: optimizer kind and settings, seed, schedule. */
  run: Record<string, unknown>;
}

export function optimizerFile(weightsFile: string): string {
  return weightsFile.replace(/(\.safetensors)?$/, '.optim.safetensors');
}

export async function saveCheckpoint(file: string, model: VanillaCnn, optimizer: Optimizer | undefined, state: RunState): Promise<void> {
  const metadata: Record<string, string> = {
    format: 'sepbn-webgpu checkpoint 1',
    config: JSON.stringify(model.config),
    epoch: String(state.epoch),
    batch_in_epoch: String(state.batchInEpoch),
    step: String(state.step),
    temperature: String(state.temperature),
    epoch_loss: JSON.stringify(state.epochLoss),
    run: JSON.stringify(state.run),
  };
  if (optimizer) {
    const tensors = await toNamedArrays(optimizer.stateTensors());
    writeSafetensors(optimizerFile(file), tensors, { step: String(state.step), scalars: JSON.stringify(optimizer.stateScalars()) });
  }
  writeSafetensors(file, await toNamedArrays(model.stateDict()), metadata);
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** A JSON entry of a checkpoint's metadata, parsed; a bad one is named with its file and field. */
function jsonField(file: string, metadata: Record<string, string>, field: string, fallback: string): unknown {
  try {
    return JSON.parse(metadata[field] ?? fallback);
  } catch (err) {
    throw new CheckpointError(`${file}: corrupt checkpoint metadata: field "${field}" is not JSON (${(err as Error).message})`);
  }
}

/** The configuration and run state stored in a checkpoint, to build the model before loading it. */
export function readCheckpointInfo(file: string): { config: VanillaCnnConfig; state: RunState } {
  const { metadata } = readSafetensors(file);
  if (!metadata.config) {
    throw new CheckpointError(`${file} has no model configuration in its metadata; a plain state dict (e.g. from PyTorch) loads with --model and --width`);
  }
  return {
    config: jsonField(file, metadata, 'config', '') as VanillaCnnConfig,
    state: {
      epoch: Number(metadata.epoch ?? 0),
      batchInEpoch: Number(metadata.batch_in_epoch ?? 0),
      step: Number(metadata.step ?? 0),
      temperature: Number(metadata.temperature ?? 1),
      epochLoss: jsonField(file, metadata, 'epoch_loss', '{"sum":0,"count":0}') as { sum: number; count: number },
      run: jsonField(file, metadata, 'run', '{}') as Record<string, unknown>,
    },
  };
}

/** Loads weights and buffers; with an optimizer, also its state from the companion file. */
export function restoreCheckpoint(file: string, model: VanillaCnn, optimizer?: Optimizer): void {
  const metadata = loadStateDict(file, model);
  if (!optimizer) return;
  const companion = optimizerFile(file);
  if (!existsSync(companion)) throw new CheckpointError(`${file}: its optimizer state ${companion} is missing, so the run cannot resume exactly`);
  const { tensors, metadata: optimMeta } = readSafetensors(companion);
  if (metadata.step !== undefined && optimMeta.step !== metadata.step) {
    throw new CheckpointError(`${companion} is from step ${optimMeta.step} but ${file} is from step ${metadata.step}`);
  }
  const values = new Map<string, Float32Array>();
  for (const [name, t] of tensors) values.set(name, t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>)); // optimizer state is F32
  const scalars = jsonField(companion, optimMeta, 'scalars', '{}') as Record<string, number>;
  try {
    optimizer.loadState(values, scalars);
  } catch (err) {
    // The optimizer knows its state's names but not the file they came from: a companion copied
    // from another model or width must be found by name.
    throw new CheckpointError(`${companion} does not fit the model of ${file}: ${(err as Error).message}`);
  }
}
