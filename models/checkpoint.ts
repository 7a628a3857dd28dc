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
import { scope } from '../engine/scope.ts';
import { lstatSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { readSafetensors, writeSafetensors } from '../nn/safetensors.ts';
import { fsyncFolder, removeStaleTemporaries, temporaryName } from '../nn/write-file-atomic.ts';
import { loadStateDict, toNamedArrays } from '../nn/state-dict.ts';
import type { Optimizer } from '../nn/optim/optimizer.ts';
import { FULL_CHANNELS, type VanillaCnn, type VanillaCnnConfig } from './vanilla-cnn.ts';

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
  /** Test NME in percent (as the log's test_nme_percent) of the epoch that ended at this save; absent for a save mid-epoch, or an older checkpoint. */
  testNmePercent?: number;
}

export function optimizerFile(weightsFile: string): string {
  return weightsFile.replace(/(\.safetensors)?$/, '.optim.safetensors');
}

/**
 * Test-only: SEPBN_TEST_SAVE_PAUSE_MS makes each stage of a save say its name (and the file it is
 * about to write, in brackets) on stderr and wait this long first, so a test can kill the process
 * inside a save at every stage, and tell the save's own new files from what an earlier one left.
 */
const savePauseMs = Number(process.env.SEPBN_TEST_SAVE_PAUSE_MS ?? 0);
export async function savePause(stage: string, file?: string): Promise<void> {
  if (savePauseMs <= 0) return;
  process.stderr.write(`checkpoint save: ${stage}${file === undefined ? '' : ` [${basename(file)}]`}\n`);
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
  if (state.testNmePercent !== undefined) metadata.test_nme_percent = String(state.testNmePercent);
  const folder = dirname(file);
  const pattern = generationPattern(file);
  const generations = (existsSync(folder) ? readdirSync(folder) : []).map((name) => pattern.exec(name)).filter((m) => m !== null);
  const generation = Math.max(0, ...generations.map((m) => Number(m[1]))) + 1;
  const weights = file.replace(/(\.safetensors)?$/, `-${generation}.safetensors`);
  if (optimizer) {
    // stateTensors copies the state out of the optimizer's arena: the scope frees the copies.
    const tensors = await scope(async () => toNamedArrays(optimizer.stateTensors()));
    await savePause('optimizer', weights);
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

/** What a metadata field must be: a test, and the words that complete "must be ...". */
interface FieldRule {
  valid: (value: unknown) => boolean;
  must: string;
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const COUNT: FieldRule = { valid: (v) => isFiniteNumber(v) && Number.isInteger(v) && v >= 0, must: 'an integer >= 0' };
const POSITIVE_INTEGER: FieldRule = { valid: (v) => isFiniteNumber(v) && Number.isInteger(v) && v > 0, must: 'a positive integer' };
const POSITIVE: FieldRule = { valid: (v) => isFiniteNumber(v) && v > 0, must: 'a number above 0' };
const NON_NEGATIVE: FieldRule = { valid: (v) => isFiniteNumber(v) && v >= 0, must: 'a number >= 0' };

/** The model configuration's fields, each checked before a model is built from it (VanillaCnnConfig, SepBnConfig). */
const CONFIG_RULES: Record<string, FieldRule> = {
  norm: { valid: (v) => v === 'none' || v === 'bn' || v === 'sepbn', must: 'one of none, bn, sepbn' },
  // Every channel count is 64..2048 divided by the width, so the width must divide 64.
  width: { valid: (v) => POSITIVE_INTEGER.valid(v) && FULL_CHANNELS[0] % (v as number) === 0, must: 'a divisor of 64' },
  seed: { valid: isFiniteNumber, must: 'a number' },
  sepbn: { valid: isRecord, must: 'an object {K, ratio, groups, temperature}' },
  'sepbn.K': POSITIVE_INTEGER,
  'sepbn.ratio': POSITIVE,
  'sepbn.groups': POSITIVE_INTEGER,
  'sepbn.temperature': POSITIVE,
};

function badMetadata(file: string, field: string, rule: FieldRule, got: unknown): CheckpointError {
  return new CheckpointError(`${file}: corrupt checkpoint metadata: field "${field}" must be ${rule.must}, got ${typeof got === 'string' ? JSON.stringify(got) : (JSON.stringify(got) ?? String(got))}`);
}

/** A numeric entry of a checkpoint's metadata (a string, as safetensors stores them), checked; `fallback` when absent. */
function numberField(file: string, metadata: Record<string, string>, field: string, rule: FieldRule, fallback: number): number {
  const text = metadata[field];
  if (text === undefined) return fallback;
  const value = text.trim() === '' ? NaN : Number(text);
  if (!rule.valid(value)) throw badMetadata(file, field, rule, text);
  return value;
}

function checkConfig(file: string, config: unknown): VanillaCnnConfig {
  if (!isRecord(config)) throw badMetadata(file, 'config', { valid: isRecord, must: 'an object {norm, width, sepbn, seed}' }, config);
  for (const [path, rule] of Object.entries(CONFIG_RULES)) {
    const value = path.split('.').reduce<unknown>((at, key) => (isRecord(at) ? at[key] : undefined), config);
    if (!rule.valid(value)) throw badMetadata(file, `config.${path}`, rule, value);
  }
  return config as unknown as VanillaCnnConfig;
}

/** The configuration and run state stored in a checkpoint, to build the model before loading it; every field checked, a bad one named with the file. */
export function readCheckpointInfo(file: string): { config: VanillaCnnConfig; state: RunState } {
  const { metadata } = readSafetensors(file);
  if (!metadata.config) {
    throw new CheckpointError(`${file} has no model configuration in its metadata; a plain state dict (e.g. from PyTorch) loads with --model and --width`);
  }
  const epochLoss = jsonField(file, metadata, 'epoch_loss', '{"sum":0,"count":0}');
  const lossRule: FieldRule = { valid: (v) => isRecord(v) && isFiniteNumber(v.sum) && COUNT.valid(v.count), must: '{"sum": a number, "count": an integer >= 0}' };
  if (!lossRule.valid(epochLoss)) throw badMetadata(file, 'epoch_loss', lossRule, epochLoss);
  const run = jsonField(file, metadata, 'run', '{}');
  if (!isRecord(run)) throw badMetadata(file, 'run', { valid: isRecord, must: 'an object of run settings' }, run);
  return {
    config: checkConfig(file, jsonField(file, metadata, 'config', '')),
    state: {
      epoch: numberField(file, metadata, 'epoch', COUNT, 0),
      batchInEpoch: numberField(file, metadata, 'batch_in_epoch', COUNT, 0),
      step: numberField(file, metadata, 'step', COUNT, 0),
      temperature: numberField(file, metadata, 'temperature', POSITIVE, 1),
      epochLoss: epochLoss as RunState['epochLoss'],
      run,
      ...(metadata.test_nme_percent === undefined ? {} : { testNmePercent: numberField(file, metadata, 'test_nme_percent', NON_NEGATIVE, 0) }),
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
