// A training run owned by the library: its settings, the epoch loop, the log and the checkpoints
// in one output folder, resuming, and stop requests. It draws nothing; callers (the train command,
// the tests) follow it through events, so the command and the tests drive the same code. The faces
// come through RunData, which the caller opens (data/run-data.ts for WFLW256 files): models/ sits
// below data/ and imports nothing from it.
//   OUT/settings.json           the settings of a new run
//   OUT/log.jsonl               one line per epoch: epoch, lr, temperature, train_loss, test_nme_percent, seconds, images_per_second (LogLine)
//   OUT/last.safetensors        the weights after the latest epoch or stop, with the run's state in the metadata
//   OUT/last.optim.safetensors  the optimizer state that goes with them
// (both links to the current generation, last-<n>.safetensors and last-<n>.optim.safetensors: see checkpoint.ts)
//   OUT/best.safetensors        the same for the epoch with the lowest test NME so far (and best.optim.safetensors)
//   OUT/log-pending.json        an epoch's log line while its checkpoint is saved
// The log line of an epoch is appended only once its checkpoint is committed, so the log never runs
// ahead of the checkpoint. It waits in log-pending.json meanwhile, so a resume can write the line a
// kill kept out of the log, and drops any line past the checkpoint.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KernelTiming } from '../engine/webgpu/profiler.ts';
import { createOptimizer, TRAINING_DEFAULTS, type Optimizer, type OptimizerKind } from '../nn/optim/optimizer.ts';
import { SEPBN_DEFAULTS } from '../nn/layers/sep-batch-norm.ts';
import { sepBnTemperature, warmupCosine, type LrSchedule } from '../nn/optim/schedule.ts';
import { loadStateDict } from '../nn/state-dict.ts';
import { isWeightsProblem } from '../nn/weights-file.ts';
import { removeStaleTemporaries, temporaryName, writeFileAtomic } from '../nn/write-file-atomic.ts';
import { readCheckpointInfo, recoverCheckpoint, removeCheckpoint, savePause, saveCheckpoint, restoreCheckpoint, type RunState } from './checkpoint.ts';
import { buildModel, isModelName, MODEL_NAMES, modelConfig, modelNameOf, type ModelName } from './registry.ts';
import { isRecipeName, RECIPE_NAMES, type RecipeName } from './recipes.ts';
import { DivergenceError, trainEpoch, type LandmarkBatch } from './trainer.ts';
import { FULL_CHANNELS, type VanillaCnn, type VanillaCnnConfig } from './vanilla-cnn.ts';

/** Everything that decides a run's result; saved in each checkpoint so a resumed run continues it. */
export interface RunSettings {
  model: ModelName;
  /** Width divisor of the channel counts. */
  width: number;
  epochs: number;
  batch: number;
  /** At most this many batches per epoch; null for all of them. */
  maxBatches: number | null;
  optimizer: OptimizerKind;
  /** Base learning rate of the warm-up and cosine schedule. */
  lr: number;
  weightDecay: number;
  /** Linear warm-up, in epochs. */
  warmup: number;
  /** Seed of the weights, the data order and the augmentation. */
  seed: number;
  /** The prepared data folder (an absolute path, so a resume from another folder finds it); null for the built-in synthetic faces. */
  data: string | null;
  /**
   * Epochs the learning-rate schedule spans (the cosine reaches its floor there); absent: `epochs`.
   * Longer than `epochs` when a run trains the start of a long recipe, which a resume with a
   * larger --epochs then continues on the same schedule.
   */
  scheduleEpochs?: number;
  /** The weights a new run started from (train --init: safetensors or .pth, an absolute path); absent: drawn from the seed. */
  init?: string;
  /** The recipe the settings came from (train --recipe), for the record. */
  recipe?: RecipeName;
  // SepBN's shape and attention temperature (train --sets, --ratio, --groups, --temperature-*):
  // recorded for the sepbn network only; absent, SEPBN_RUN_DEFAULTS (older checkpoints resume so).
  /** K, the parameter sets each SepBN layer mixes. */
  sets?: number;
  /** The attention's hidden width: max(1, floor(ratio x channels)). */
  ratio?: number;
  /** Channel groups, each with its own attention. */
  groups?: number;
  /** The temperature at epoch 0; it falls by temperatureStep each epoch, never below temperatureEnd. */
  temperatureStart?: number;
  temperatureEnd?: number;
  temperatureStep?: number;
  /** Training augmentation (train --augment): one random affine per face (data/augment.ts), or none; absent: affine. */
  augment?: AugmentName;
}

export const AUGMENT_NAMES = ['affine', 'none'] as const;
export type AugmentName = (typeof AUGMENT_NAMES)[number];

export function isAugmentName(name: unknown): name is AugmentName {
  return typeof name === 'string' && (AUGMENT_NAMES as readonly string[]).includes(name);
}

/** The paper's SepBN: 3 sets, ratio 0.1, one group, temperature 30 falling by 1 an epoch to 1. */
export const SEPBN_RUN_DEFAULTS = {
  sets: SEPBN_DEFAULTS.K,
  ratio: SEPBN_DEFAULTS.ratio,
  groups: SEPBN_DEFAULTS.groups,
  temperatureStart: SEPBN_DEFAULTS.temperature,
  temperatureEnd: 1,
  temperatureStep: 1,
} as const;

/** A run's SepBN settings, each the recorded one or its default. */
export function sepBnSettings(settings: RunSettings): { -readonly [K in keyof typeof SEPBN_RUN_DEFAULTS]: number } {
  const d = SEPBN_RUN_DEFAULTS;
  return {
    sets: settings.sets ?? d.sets,
    ratio: settings.ratio ?? d.ratio,
    groups: settings.groups ?? d.groups,
    temperatureStart: settings.temperatureStart ?? d.temperatureStart,
    temperatureEnd: settings.temperatureEnd ?? d.temperatureEnd,
    temperatureStep: settings.temperatureStep ?? d.temperatureStep,
  };
}

/** The network a run trains: its model and width, and SepBN's sets, ratio, groups and starting temperature (saved in each checkpoint's config). */
function runModelConfig(settings: RunSettings): VanillaCnnConfig {
  const config = modelConfig(settings.model, settings.width, settings.seed);
  const s = sepBnSettings(settings);
  config.sepbn = { K: s.sets, ratio: s.ratio, groups: s.groups, temperature: s.temperatureStart };
  return config;
}

const OPTIMIZER_KINDS: readonly OptimizerKind[] = ['adam', 'adamw', 'sgd'];

export function isOptimizerKind(name: unknown): name is OptimizerKind {
  return typeof name === 'string' && (OPTIMIZER_KINDS as readonly string[]).includes(name);
}

/** A problem with what the run was given (settings, checkpoint, output folder, data), not a bug: its message says it all. */
export class RunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunError';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isPositiveInteger = (v: unknown): v is number => isNumber(v) && Number.isInteger(v) && v > 0;
const isCount = (v: unknown): v is number => isNumber(v) && Number.isInteger(v) && v >= 0;

function badField(file: string, field: string, must: string, got: unknown): RunError {
  // Strings are quoted so that "1" and 1 read differently.
  const shown = typeof got === 'number' || got === undefined ? String(got) : JSON.stringify(got);
  return new RunError(`${file}: metadata field "${field}" must be ${must}, got ${shown}`);
}

/**
 * The settings in a checkpoint's "run" metadata entry (parsed from JSON), each checked for
 * presence, type and range; the error names the checkpoint file and the first bad field.
 */
export function parseRunSettings(run: unknown, file: string): RunSettings {
  if (!isRecord(run)) throw badField(file, 'run', 'an object of run settings', run);
  const field = <T>(name: keyof RunSettings, valid: (v: unknown) => v is T, must: string): T => {
    if (!Object.hasOwn(run, name)) throw new RunError(`${file}: metadata field "${name}" is missing`);
    const value = run[name];
    if (!valid(value)) throw badField(file, name, must, value);
    return value;
  };
  const settings: RunSettings = {
    model: field('model', isModelName, `one of ${MODEL_NAMES.join(', ')}`),
    width: field('width', isPositiveInteger, 'a positive integer'),
    epochs: field('epochs', isPositiveInteger, 'a positive integer'),
    batch: field('batch', isPositiveInteger, 'a positive integer'),
    maxBatches: field('maxBatches', (v): v is number | null => v === null || isPositiveInteger(v), 'a positive integer or null'),
    optimizer: field('optimizer', isOptimizerKind, OPTIMIZER_KINDS.join(', ')),
    lr: field('lr', (v): v is number => isNumber(v) && v > 0, 'a positive number'),
    weightDecay: field('weightDecay', (v): v is number => isNumber(v) && v >= 0, 'a number >= 0'),
    warmup: field('warmup', (v): v is number => isNumber(v) && v >= 0, 'a number >= 0'),
    seed: field('seed', isNumber, 'a number'),
    data: field('data', (v): v is string | null => v === null || typeof v === 'string', 'a folder name or null'),
  };
  // Settings added later are absent from older checkpoints, which still resume.
  if (Object.hasOwn(run, 'scheduleEpochs')) settings.scheduleEpochs = field('scheduleEpochs', isPositiveInteger, 'a positive integer');
  if (Object.hasOwn(run, 'init')) settings.init = field('init', (v): v is string => typeof v === 'string', 'a file name');
  if (Object.hasOwn(run, 'recipe')) settings.recipe = field('recipe', isRecipeName, `one of ${RECIPE_NAMES.join(', ')}`);
  for (const name of ['sets', 'groups'] as const) if (Object.hasOwn(run, name)) settings[name] = field(name, isPositiveInteger, 'a positive integer');
  for (const name of ['ratio', 'temperatureStart', 'temperatureEnd'] as const) {
    if (Object.hasOwn(run, name)) settings[name] = field(name, (v): v is number => isNumber(v) && v > 0, 'a positive number');
  }
  if (Object.hasOwn(run, 'temperatureStep')) settings.temperatureStep = field('temperatureStep', (v): v is number => isNumber(v) && v >= 0, 'a number >= 0');
  if (Object.hasOwn(run, 'augment')) settings.augment = field('augment', isAugmentName, `one of ${AUGMENT_NAMES.join(', ')}`);
  // The schedule needs a cosine part after the warm-up, and the run must end within it.
  const scheduleField = settings.scheduleEpochs === undefined ? 'epochs' : 'scheduleEpochs';
  const scheduleEpochs = settings.scheduleEpochs ?? settings.epochs;
  if (settings.warmup >= scheduleEpochs) throw badField(file, 'warmup', `below ${scheduleField} (${scheduleEpochs})`, settings.warmup);
  if (scheduleEpochs < settings.epochs) throw badField(file, 'scheduleEpochs', `at least epochs (${settings.epochs})`, scheduleEpochs);
  return settings;
}

/** A checkpoint to continue: its settings win over any given ones. */
export interface SavedRun {
  file: string;
  settings: RunSettings;
  state: RunState;
}

/** Reads and checks the settings and the position (epoch, batch, step, loss so far) a checkpoint continues from. */
export function readRunCheckpoint(file: string): SavedRun {
  const { state } = readCheckpointInfo(file);
  // readCheckpointInfo reads an absent run as {}: say so, rather than name its first field as missing.
  if (Object.keys(state.run).length === 0) throw new RunError(`${file}: metadata field "run" is missing, so there are no run settings to resume`);
  const settings = parseRunSettings(state.run, file);
  // readCheckpointInfo has checked each field on its own; what is left is how they agree.
  if (state.epoch > settings.epochs) throw badField(file, 'epoch', `an integer from 0 to ${settings.epochs}`, state.epoch);
  return { file, settings, state };
}

/** Where a run's faces come from: its training batches epoch by epoch, and its test score. */
export interface RunData {
  /** Batches of one training epoch; the same epoch draws the same batches every time, so a resume continues exactly. */
  epoch(epoch: number): AsyncIterable<LandmarkBatch>;
  readonly batchesPerEpoch: number;
  /** The training faces in words, for messages: e.g. 'faces/train.txt has 8 faces'. */
  readonly describe: string;
  /** NME of the model as it is now on the test faces (the model is left in eval mode); Infinity when a prediction is NaN or infinite. */
  testNme(model: VanillaCnn): Promise<number>;
  close(): Promise<void>;
}

export interface RunOptions {
  /** Folder of the log and the checkpoints; made if missing. */
  out: string;
  /** A new run replaces a run already in `out` instead of refusing to start. */
  overwrite?: boolean;
  /** Opens the data for the run's settings (batch size and seed come from a checkpoint when resuming). */
  openData: (settings: RunSettings) => RunData;
}

/** One epoch's line of OUT/log.jsonl. */
export interface LogLine {
  epoch: number;
  /** The learning rate of the epoch's last step. */
  lr: number;
  temperature: number;
  /** Mean step loss over the whole epoch, including steps done before a resume: L1, pixels of the 128 input frame. */
  train_loss: number;
  /** Test NME after the epoch, in percent of the inter-ocular distance, as every command prints it (null in the file when infinite). */
  test_nme_percent: number;
  /** Training time of the epoch (this session's part of it, when resumed). */
  seconds: number;
  images_per_second: number;
}

export interface RunEvents {
  /** Asked after every step; once aborted, the run saves a checkpoint and returns. */
  signal?: AbortSignal;
  /** `epoch` counts from 0; `skipBatches` were done before a resume. */
  onEpochStart?: (info: { epoch: number; skipBatches: number }) => void;
  onStep?: (info: { epoch: number; batch: number; loss: number; lr: number; imagesPerSecond: number }) => void;
  /** After the epoch's line is logged and its checkpoint saved. */
  onEpochEnd?: (line: LogLine) => void;
  /** When given, one step early in the session (the second, where there is one) is timed kernel by kernel. */
  onProfile?: (timings: KernelTiming[]) => void;
}

export interface RunOutcome {
  /** True when a stop request ended the run; the checkpoint continues it. */
  stopped: boolean;
  /** Epochs fully done, and batches done in the next one, as saved in the checkpoint. */
  epoch: number;
  batchInEpoch: number;
}

/** Where a run stands: what a checkpoint's state records besides the settings. */
interface Position {
  epoch: number;
  batchInEpoch: number;
  step: number;
  epochLoss: { sum: number; count: number };
}

/** The file checkOutFolder writes and removes to learn that `out` is writable. */
const WRITE_PROBE = '.write-test';

/** Does `out` hold a run: a log or a checkpoint? */
function holdsRun(out: string): boolean {
  return existsSync(join(out, 'log.jsonl')) || existsSync(join(out, 'last.safetensors'));
}

/**
 * Checks, changing nothing, that a run may write into `out`: that it is a folder or can be made
 * one, that it is writable, and, for a new run, that it holds no run unless told to overwrite.
 * Each folder is tried by hand, one level at a time: recursive mkdir never returns on some
 * paths (e.g. under /proc).
 */
export function checkOutFolder(out: string, mode: 'new' | 'overwrite' | 'resume'): void {
  let existing = out;
  let firstMissing: string | undefined;
  // ENOTDIR as well as ENOENT: under a file nothing exists, and the file is reported below.
  const exists = (path: string) => {
    try {
      return statSync(path);
    } catch {
      return undefined;
    }
  };
  while (!exists(existing)) {
    firstMissing = existing;
    existing = dirname(existing);
  }
  if (!statSync(existing).isDirectory()) throw new RunError(`--out ${out}: ${existing} is not a folder`);
  try {
    // access() says yes to root even on /proc: only making something there tells.
    if (firstMissing !== undefined) {
      mkdirSync(firstMissing);
      rmdirSync(firstMissing);
    } else {
      // A temporary name, so that the probe of a process killed right here is removed at the next start.
      const probe = temporaryName(join(out, WRITE_PROBE));
      writeFileSync(probe, '');
      unlinkSync(probe);
    }
  } catch (err) {
    throw new RunError(`--out ${out}: cannot write in ${existing} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (mode === 'new' && holdsRun(out)) {
    throw new RunError(`${out} already holds a run; use --resume ${join(out, 'last.safetensors')} to continue it, or --overwrite to replace it`);
  }
}

/**
 * The schedule must have a cosine part after the warm-up, and the run must end within it. Checked
 * where cli/train.js forms a new run's settings, before the data are read (or drawn), and again
 * when any run starts; each message names the flags to change.
 */
export function checkSchedule(settings: Pick<RunSettings, 'epochs' | 'warmup' | 'scheduleEpochs'>): void {
  const scheduleEpochs = settings.scheduleEpochs ?? settings.epochs;
  if (!(settings.warmup < scheduleEpochs)) {
    throw new RunError(`a warm-up of ${settings.warmup} epochs (--warmup) leaves no cosine in a schedule of ${scheduleEpochs} epochs (--${settings.scheduleEpochs === undefined ? '' : 'schedule-'}epochs)`);
  }
  if (settings.epochs > scheduleEpochs) {
    throw new RunError(`--epochs ${settings.epochs} runs past the end of the learning-rate schedule at epoch ${scheduleEpochs} (--schedule-epochs), after which the rate would stay at its floor`);
  }
}

/** Refuses SepBN settings no network can take: groups that do not divide the channels, a temperature that would rise. */
export function checkSepBn(settings: RunSettings): void {
  const sepbn = sepBnSettings(settings);
  const firstChannels = FULL_CHANNELS[0] / settings.width;
  if (settings.model === 'sepbn' && firstChannels % sepbn.groups !== 0) {
    throw new RunError(`--groups ${sepbn.groups} does not divide the ${firstChannels} channels of the first SepBN layer at width 1/${settings.width}; every layer's channels must split into equal groups`);
  }
  if (sepbn.temperatureEnd > sepbn.temperatureStart) {
    throw new RunError(`--temperature-end ${sepbn.temperatureEnd} is above --temperature-start ${sepbn.temperatureStart}; the temperature only falls`);
  }
}

/**
 * The optimizer's momentum option: the optimizers default to PyTorch's plain SGD, and every run
 * takes the commands' momentum (TRAINING_DEFAULTS), which is not a setting of its own.
 */
function sgdMomentum(settings: RunSettings): { momentum?: number } {
  return settings.optimizer === 'sgd' ? { momentum: TRAINING_DEFAULTS.sgd.momentum } : {};
}

export class TrainingRun {
  readonly checkpointFile: string;
  /** The checkpoint of the epoch with the lowest test NME so far, saved as last is. */
  readonly bestFile: string;
  private bestPercent = Infinity;
  /** The test NME of bestFile's epoch, in percent (Infinity before the first epoch ends). */
  get bestNmePercent(): number {
    return this.bestPercent;
  }
  readonly logFile: string;
  private readonly pendingLogFile: string;
  readonly batchesPerEpoch: number;
  private readonly model: VanillaCnn;
  private readonly optimizer: Optimizer;
  private readonly data: RunData;
  private readonly schedule: LrSchedule;

  /**
   * A new run: refuses an OUT that holds a run unless `overwrite` (then removes its checkpoint),
   * and writes OUT/settings.json and an empty log; log lines and checkpoints follow epoch by epoch.
   */
  static start(settings: RunSettings, options: RunOptions): TrainingRun {
    checkOutFolder(options.out, options.overwrite ? 'overwrite' : 'new');
    const run = new TrainingRun(settings, options, { epoch: 0, batchInEpoch: 0, step: 0, epochLoss: { sum: 0, count: 0 } }, settings.init);
    mkdirSync(options.out, { recursive: true });
    rmSync(run.pendingLogFile, { force: true });
    run.removeStaleFiles();
    if (options.overwrite) {
      removeCheckpoint(run.checkpointFile);
      removeCheckpoint(run.bestFile);
    }
    // SGD's momentum is not a setting, but a record of the run should show it.
    writeFileAtomic(join(options.out, 'settings.json'), JSON.stringify({ ...settings, ...sgdMomentum(settings), modelName: modelNameOf(run.model.config) }, null, 2) + '\n');
    // An empty log from the start: the folder holds a run from here on, which a resume of its first checkpoint continues.
    writeFileAtomic(run.logFile, '');
    return run;
  }

  /**
   * Continues a checkpoint (from readRunCheckpoint) exactly, appending to the log in OUT: removes
   * what a killed save left there, and makes the log end at the checkpoint's epoch.
   */
  static resume(saved: SavedRun, options: RunOptions): TrainingRun {
    checkOutFolder(options.out, 'resume');
    const { epoch, batchInEpoch, step, epochLoss } = saved.state;
    const run = new TrainingRun(saved.settings, options, { epoch, batchInEpoch, step, epochLoss });
    if (!existsSync(run.logFile)) throw new RunError(`${options.out} has no log.jsonl to continue; pass the --out of the run being resumed`);
    restoreCheckpoint(saved.file, run.model, run.optimizer);
    run.removeStaleFiles();
    run.mendLog(epoch);
    // A best saved by a kill just before its epoch's last is the same network the epoch will train
    // again (a resume is exact), so its NME stands; one without a recorded NME is beaten by the next epoch.
    if (existsSync(run.bestFile)) run.bestPercent = readCheckpointInfo(run.bestFile).state.testNmePercent ?? Infinity;
    return run;
  }

  /** `init`: weights to start from (a new run's --init); a resumed run's come from its checkpoint. */
  private constructor(readonly settings: RunSettings, options: RunOptions, private position: Position, init?: string) {
    checkSchedule(settings);
    checkSepBn(settings);
    const scheduleEpochs = settings.scheduleEpochs ?? settings.epochs;
    this.checkpointFile = join(options.out, 'last.safetensors');
    this.bestFile = join(options.out, 'best.safetensors');
    this.logFile = join(options.out, 'log.jsonl');
    this.pendingLogFile = join(options.out, 'log-pending.json');
    this.model = buildModel(runModelConfig(settings));
    if (init !== undefined) {
      try {
        loadStateDict(init, this.model);
      } catch (err) {
        throw isWeightsProblem(err) ? new RunError(`--init: ${(err as Error).message}`) : err;
      }
    }
    this.optimizer = createOptimizer(settings.optimizer, this.model.namedParameters(), { lr: settings.lr, weightDecay: settings.weightDecay, ...sgdMomentum(settings) });
    this.data = options.openData(settings);
    this.batchesPerEpoch = Math.min(this.data.batchesPerEpoch, settings.maxBatches ?? Infinity);
    if (this.batchesPerEpoch < 1) throw new RunError(`${this.data.describe}: fewer faces than one batch of ${settings.batch}`);
    this.schedule = warmupCosine({ baseLr: settings.lr, warmupEpochs: settings.warmup, totalEpochs: scheduleEpochs });
  }

  /** Trains to the last epoch, or until `signal` aborts; each epoch ends with a log line and a checkpoint. */
  async train(events: RunEvents = {}): Promise<RunOutcome> {
    const stopRequested = () => events.signal?.aborted ?? false;
    const firstEpoch = this.position.epoch;
    try {
      while (this.position.epoch < this.settings.epochs) {
        const { epoch, batchInEpoch: skip } = this.position;
        const { temperatureStart, temperatureEnd, temperatureStep } = sepBnSettings(this.settings);
        const temperature = sepBnTemperature(epoch, temperatureStart, temperatureEnd, temperatureStep);
        this.model.temperature = temperature;
        events.onEpochStart?.({ epoch, skipBatches: skip });
        const report = await trainEpoch(this.model, this.optimizer, firstBatches(this.data.epoch(epoch), this.batchesPerEpoch), {
          epoch,
          batchesPerEpoch: this.batchesPerEpoch,
          skipBatches: skip,
          schedule: this.schedule,
          shouldStop: stopRequested,
          profile: events.onProfile && epoch === firstEpoch ? { batch: Math.min(skip + 1, this.batchesPerEpoch - 1), onTimings: events.onProfile } : undefined,
          onStep: (step) => events.onStep?.({ epoch, ...step }),
        });
        const carried = this.position.epochLoss;
        this.position.step += report.batches - skip;
        this.position.epochLoss = { sum: carried.sum + report.lossSum, count: carried.count + report.lossCount };
        if (stopRequested() && report.batches < this.batchesPerEpoch) {
          this.position.batchInEpoch = report.batches;
          await this.save(temperature);
          return { stopped: true, epoch, batchInEpoch: report.batches };
        }
        const line = await this.endEpoch(epoch, temperature, report.seconds, report.images);
        events.onEpochEnd?.(line);
        if (stopRequested()) return { stopped: true, epoch: epoch + 1, batchInEpoch: 0 };
      }
      return { stopped: false, epoch: this.position.epoch, batchInEpoch: 0 };
    } finally {
      await this.data.close();
    }
  }

  /** What a killed run left in OUT: temporary files of the run's own files, and unfinished checkpoint generations. */
  private removeStaleFiles(): void {
    const own = new Set(['settings.json', 'log.jsonl', 'log-pending.json', WRITE_PROBE]);
    removeStaleTemporaries(dirname(this.logFile), (name) => own.has(name));
    recoverCheckpoint(this.checkpointFile);
    recoverCheckpoint(this.bestFile);
  }

  /**
   * Keeps the log's first line of each epoch up to `epoch` (the checkpoint's), adding the pending
   * line when a kill fell between its checkpoint's save and the line; a pending line past `epoch`
   * belongs to a save that never committed.
   */
  private mendLog(epoch: number): void {
    const text = readFileSync(this.logFile, 'utf8');
    const pending: unknown = existsSync(this.pendingLogFile) ? JSON.parse(readFileSync(this.pendingLogFile, 'utf8')) : undefined;
    const kept = new Map<number, string>();
    for (const line of text.split('\n')) {
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        continue; // a blank line, or one cut short
      }
      const n = isRecord(entry) ? entry.epoch : undefined;
      if (isCount(n) && n <= epoch && !kept.has(n)) kept.set(n, line);
    }
    if (isRecord(pending) && isCount(pending.epoch) && pending.epoch <= epoch && !kept.has(pending.epoch)) kept.set(pending.epoch, JSON.stringify(pending));
    const mended = [...kept].sort(([a], [b]) => a - b).map(([, l]) => l + '\n').join('');
    if (mended !== text) writeFileAtomic(this.logFile, mended);
    rmSync(this.pendingLogFile, { force: true });
  }

  /**
   * Scores the test set, saves the checkpoint at the epoch boundary (and as the best, first, when
   * its NME is the lowest yet), then appends the epoch's log line. Best before last: a kill between
   * the two leaves last at the epoch before, which a resume trains again to the same best.
   */
  private async endEpoch(epoch: number, temperature: number, seconds: number, images: number): Promise<LogLine> {
    const testNme = await this.data.testNme(this.model);
    // Finite weights can still overflow on the way to the output: such a network must not be saved as the latest.
    if (!Number.isFinite(testNme)) throw new DivergenceError(epoch + 1, this.batchesPerEpoch, this.optimizer.lr, 'after the epoch\'s last step the weights are finite, but the network predicts NaN or Infinity on test faces');
    const { sum, count } = this.position.epochLoss;
    const line: LogLine = { epoch: epoch + 1, lr: this.optimizer.lr, temperature, train_loss: sum / count, test_nme_percent: 100 * testNme, seconds, images_per_second: images / seconds };
    this.position = { epoch: epoch + 1, batchInEpoch: 0, step: this.position.step, epochLoss: { sum: 0, count: 0 } };
    writeFileAtomic(this.pendingLogFile, JSON.stringify(line) + '\n');
    if (line.test_nme_percent < this.bestPercent) {
      await this.save(temperature, this.bestFile, line.test_nme_percent);
      this.bestPercent = line.test_nme_percent;
    }
    await this.save(temperature, this.checkpointFile, line.test_nme_percent);
    await savePause('log');
    appendFileSync(this.logFile, JSON.stringify(line) + '\n');
    rmSync(this.pendingLogFile);
    return line;
  }

  /** `testNmePercent`: the score of the epoch just ended, recorded in the checkpoint; absent for a save mid-epoch. */
  private save(temperature: number, file = this.checkpointFile, testNmePercent?: number): Promise<void> {
    const { epoch, batchInEpoch, step, epochLoss } = this.position;
    return saveCheckpoint(file, this.model, this.optimizer, { epoch, batchInEpoch, step, temperature, epochLoss, run: { ...this.settings }, testNmePercent });
  }
}

/** The first `count` items of an async iterable. */
async function* firstBatches<T>(items: AsyncIterable<T>, count: number): AsyncGenerator<T> {
  if (count <= 0) return;
  let n = 0;
  for await (const item of items) {
    yield item;
    if (++n >= count) return;
  }
}
