// Checkpoints: the model's state dict as a safetensors file with PyTorch's names (so PyTorch loads
// it with safetensors.torch.load_file), the run's state in its metadata, and the optimizer's
// state in a companion file NAME.optim.safetensors.
//
// A save must replace both files at once, and two renames are never one step. So each save writes
// a new generation, NAME-<n>.safetensors and NAME-<n>.optim.safetensors (each flushed to the disk
// under a temporary name, then renamed), and then commits it by renaming one symbolic link,
// NAME.safetensors -> NAME-<n>.safetensors, over the old one. The link is the pointer: the
// optimizer state that goes with it is always found beside its target, so a kill at any instant
// leaves the old generation or the new one whole. NAME.optim.safetensors is a second link that
// follows it for users, repaired on the next start if a kill fell between the two renames. The
// links keep the documented names: readers (cli/test.js --weights, PyTorch) follow them to a
// plain safetensors file. We chose this over putting the optimizer state inside the weights file
// because that file would then no longer be a plain state dict for a strict load_state_dict.
import { lstatSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { readSafetensors, writeSafetensors } from '../nn/safetensors.ts';
import { fsyncFolder, removeStaleTemporaries, temporaryName } from '../nn/write-file-atomic.ts';
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

/**
 * Test-only: SEPBN_TEST_SAVE_PAUSE_MS makes each stage of a save say its name on stderr and wait
 * this long first, so a test can kill the process inside a save at every stage.
 */
const savePauseMs = Number(process.env.SEPBN_TEST_SAVE_PAUSE_MS ?? 0);
export async function savePause(stage: string): Promise<void> {
  if (savePauseMs <= 0) return;
  process.stderr.write(`checkpoint save: ${stage}\n`);
  await new Promise((resolve) => setTimeout(resolve, savePauseMs));
}

/** NAME-<n>.safetensors and NAME-<n>.optim.safetensors of the checkpoint NAME.safetensors. */
function generationPattern(file: string): RegExp {
  const stem = basename(file).replace(/\.safetensors$/, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${stem}-(\\d+)(\\.optim)?\\.safetensors$`);
}

/** The file the checkpoint NAME.safetensors stands for now: its link's target, or itself when it is a plain file. */
export function checkpointTarget(file: string): string {
  return lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink() ? resolve(dirname(file), readlinkSync(file)) : file;
}

/** Points `link` at `target` (a name in the same folder) in one rename. */
function replaceLink(link: string, target: string): void {
  const temporary = temporaryName(link);
  symlinkSync(target, temporary);
  renameSync(temporary, link);
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
  const folder = dirname(file);
  const pattern = generationPattern(file);
  const generations = (existsSync(folder) ? readdirSync(folder) : []).map((name) => pattern.exec(name)).filter((m) => m !== null);
  const generation = Math.max(0, ...generations.map((m) => Number(m[1]))) + 1;
  const weights = file.replace(/(\.safetensors)?$/, `-${generation}.safetensors`);
  if (optimizer) {
    const tensors = await toNamedArrays(optimizer.stateTensors());
    await savePause('optimizer');
    writeSafetensors(optimizerFile(weights), tensors, { step: String(state.step), scalars: JSON.stringify(optimizer.stateScalars()) });
  }
  const stateDict = await toNamedArrays(model.stateDict());
  await savePause('weights');
  writeSafetensors(weights, stateDict, metadata);
  fsyncFolder(folder);
  await savePause('commit');
  replaceLink(file, basename(weights));
  fsyncFolder(folder);
  await savePause('optimizer link');
  if (optimizer) replaceLink(optimizerFile(file), basename(optimizerFile(weights)));
  else rmSync(optimizerFile(file), { force: true });
  await savePause('prune');
  recoverCheckpoint(file);
}

/**
 * Tidies a checkpoint's folder after a save or a kill: removes the temporary files of its names
 * left by processes no longer running, and every generation but the current one, and points
 * NAME.optim.safetensors at the current generation's optimizer state.
 */
export function recoverCheckpoint(file: string): void {
  const folder = dirname(file);
  if (!existsSync(folder)) return;
  removeStaleTemporaries(folder, (name) => ownsName(file, name));
  const current = basename(checkpointTarget(file));
  const keep = new Set([current, optimizerFile(current)]);
  const pattern = generationPattern(file);
  for (const name of readdirSync(folder)) if (pattern.test(name) && !keep.has(name)) rmSync(join(folder, name), { force: true });
  const optimizerTarget = optimizerFile(current);
  if (current !== basename(file) && existsSync(join(folder, optimizerTarget))) {
    const link = optimizerFile(file);
    if (!lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink() || readlinkSync(link) !== optimizerTarget) replaceLink(link, optimizerTarget);
  }
}

/** Removes a checkpoint: its links or files, every generation and their temporary files. */
export function removeCheckpoint(file: string): void {
  const folder = dirname(file);
  if (!existsSync(folder)) return;
  for (const name of readdirSync(folder)) {
    if (ownsName(file, name.replace(/\.tmp-\d+-[0-9a-z]*$/, ''))) rmSync(join(folder, name), { force: true });
  }
}

/** Is `name` one of the checkpoint's: its two links (or plain files) or a generation? */
function ownsName(file: string, name: string): boolean {
  return name === basename(file) || name === basename(optimizerFile(file)) || generationPattern(file).test(name);
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

/** Loads weights and buffers; with an optimizer, also its state from the companion file beside the link's target. */
export function restoreCheckpoint(file: string, model: VanillaCnn, optimizer?: Optimizer): void {
  const metadata = loadStateDict(file, model);
  if (!optimizer) return;
  const companion = optimizerFile(checkpointTarget(file));
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
