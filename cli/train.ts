#!/usr/bin/env node
// node cli/train.js: trains a landmark network; with no arguments, the SepBN network on the
// built-in synthetic faces, sized to finish in minutes on a software rasteriser and at full size
// on a hardware GPU.
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gpuRuntime } from '../engine/backend.ts';
import { chromeTrace, kernelTotals, type KernelTiming } from '../engine/webgpu/profiler.ts';
import { describeRecipe, isRecipeName, RECIPE_NAMES, RECIPES } from '../models/recipes.ts';
import { isModelName, MODEL_NAMES, modelNameOf, type ModelName } from '../models/registry.ts';
import type { VanillaCnnConfig } from '../models/vanilla-cnn.ts';
import { chooseConfig } from '../models/weights.ts';
import { FORMAT_NAMES, isWeightsProblem, readWeightsFile, weightsFileFormat, type WeightsFile } from '../nn/weights-file.ts';
import { CheckpointError, readCheckpointInfo } from '../models/checkpoint.ts';
import { wflwRunData } from '../data/run-data.ts';
import {
  AUGMENT_NAMES,
  checkOutFolder,
  checkSchedule,
  checkSepBn,
  isAugmentName,
  isOptimizerKind,
  readRunCheckpoint,
  RunError,
  SEPBN_RUN_DEFAULTS,
  sepBnSettings,
  TrainingRun,
  type RunSettings,
  type SavedRun,
} from '../models/run.ts';
import { TRAINING_DEFAULTS } from '../nn/optim/optimizer.ts';
import { numberOption, parseCommand } from './args.ts';
import { resolveData } from './dataset.ts';
import { backendOption, openBackend, runMain, UsageError } from './main.ts';
import { formatSeconds, Progress } from './progress.ts';
import { DivergenceError } from '../models/trainer.ts';

const { values } = parseCommand({
  usage: 'node cli/train.js [options]',
  summary:
    'Trains the Vanilla CNN (baseline), its SepBN version (sepbn) or a BatchNorm ablation (bn) for 98 WFLW\n' +
    'landmarks with the L1 loss. Without --data it uses the built-in synthetic faces. Each epoch it scores\n' +
    'the test set, appends a line to OUT/log.jsonl and saves OUT/last.safetensors (weights with PyTorch names)\n' +
    'and OUT/last.optim.safetensors; Ctrl-C saves and exits; --resume continues exactly where a run stopped.\n' +
    'A new run refuses an OUT that holds a run (a log or a checkpoint) unless given --overwrite.',
  options: {
    data: { type: 'string', value: 'DIR', help: 'prepared WFLW256 folder (train.txt, test.txt, test_*.txt from cli/prepare.js)' },
    model: { type: 'string', value: MODEL_NAMES.join('|'), help: 'which network (default: sepbn)' },
    width: { type: 'string', value: 'W', help: 'width divisor (default: 1 on a hardware GPU, 16 on a software one or the CPU)' },
    epochs: { type: 'string', value: 'N', help: 'epochs (default: 60 on a hardware GPU, 3 otherwise)' },
    batch: { type: 'string', value: 'N', help: 'batch size (default: 64 on a hardware GPU, 8 otherwise)' },
    'max-batches': { type: 'string', value: 'N', help: 'at most N batches per epoch (default: all on a hardware GPU, 40 otherwise)' },
    optimizer: { type: 'string', value: 'adam|adamw|sgd', help: 'update rule (default: adam)' },
    lr: { type: 'string', value: 'LR', help: 'base learning rate (default: 1e-3)' },
    'weight-decay': { type: 'string', value: 'WD', help: 'weight decay (default: 0 for Adam, 5e-4 for SGD)' },
    warmup: { type: 'string', value: 'EPOCHS', help: 'linear warm-up epochs before the cosine decay (default: 1, or 0 for a one-epoch run)' },
    'schedule-epochs': { type: 'string', value: 'N', help: 'epochs the warm-up and cosine schedule spans, when a run trains only its start (default: --epochs)' },
    recipe: { type: 'string', value: RECIPE_NAMES.join('|'), help: "a published run's settings (below); any flag given beside it overrides that one setting" },
    init: { type: 'string', value: 'CKPT', help: 'start from these weights (safetensors or PyTorch .pth; network and width read from them unless given) with a fresh optimizer' },
    seed: { type: 'string', value: 'S', help: 'seed of the weights, data order and augmentation (default: 1)' },
    sets: { type: 'string', value: 'K', help: `SepBN: the parameter sets each layer mixes (default: ${SEPBN_RUN_DEFAULTS.sets})` },
    ratio: { type: 'string', value: 'R', help: `SepBN: the attention's hidden units, max(1, floor(R x channels)) (default: ${SEPBN_RUN_DEFAULTS.ratio})` },
    groups: { type: 'string', value: 'G', help: `SepBN: channel groups, each with its own attention (default: ${SEPBN_RUN_DEFAULTS.groups})` },
    'temperature-start': { type: 'string', value: 'T', help: `SepBN: the attention's softmax temperature in the first epoch (default: ${SEPBN_RUN_DEFAULTS.temperatureStart})` },
    'temperature-end': { type: 'string', value: 'T', help: `SepBN: the lowest temperature, kept once reached (default: ${SEPBN_RUN_DEFAULTS.temperatureEnd})` },
    'temperature-step': { type: 'string', value: 'T', help: `SepBN: how much the temperature falls after each epoch (default: ${SEPBN_RUN_DEFAULTS.temperatureStep})` },
    augment: { type: 'string', value: AUGMENT_NAMES.join('|'), help: 'training augmentation: one random affine per face (rotation, shear, box jitter, mirror; see README), or none (default: affine)' },
    workers: { type: 'string', value: 'N', default: '2', help: 'loader worker threads' },
    out: { type: 'string', value: 'DIR', help: 'where the log and checkpoints go (default: runs/<model>-w<W>-s<seed>)' },
    resume: { type: 'string', value: 'CKPT', help: "continue the run saved in this checkpoint, in its folder unless --out says otherwise; --data may move the data, --epochs extend the run, any other setting must match the checkpoint's" },
    overwrite: { type: 'boolean', help: 'start a new run even where --out holds one, replacing its log and checkpoint' },
    profile: { type: 'string', value: 'FILE', help: 'time the second step kernel by kernel (GPU timestamp queries) into a Chrome trace for Perfetto, and print the top kernels' },
    backend: backendOption,
  },
  notes: RECIPE_NAMES.map((name) => describeRecipe(name).join('\n')).join('\n\n'),
});

/** The flags that override a setting a recipe describes (models/recipes.ts describeRecipe), said at the start of a recipe's run. */
const RECIPE_FLAGS = ['optimizer', 'lr', 'weight-decay', 'batch', 'max-batches', 'epochs', 'warmup', 'schedule-epochs', 'temperature-start', 'temperature-step', 'temperature-end'];

/** A new run's settings: the flags, over the recipe's (--recipe), over the --init weights' network and width, over the defaults for this adapter. */
function settingsFromFlags(hardware: boolean, init?: { file: string; config: VanillaCnnConfig }): RunSettings {
  const recipeName = values.recipe;
  if (recipeName !== undefined && !isRecipeName(recipeName)) throw new UsageError(`--recipe must be one of ${RECIPE_NAMES.join(', ')}, got "${String(recipeName)}"`);
  const recipe = recipeName === undefined ? undefined : RECIPES[recipeName].settings;
  const model = values.model ?? (init ? modelNameOf(init.config) : 'sepbn');
  if (!isModelName(model)) throw new UsageError(`--model must be one of ${MODEL_NAMES.join(', ')}, got "${model}"`);
  const optimizer = values.optimizer ?? recipe?.optimizer ?? 'adam';
  if (!isOptimizerKind(optimizer)) throw new UsageError(`--optimizer must be adam, adamw or sgd, got "${optimizer}"`);
  const defaults = optimizer === 'sgd' ? TRAINING_DEFAULTS.sgd : TRAINING_DEFAULTS.adam;
  const epochs = numberOption(values, 'epochs') ?? recipe?.epochs ?? (hardware ? 60 : 3);
  const settings: RunSettings = {
    model,
    width: numberOption(values, 'width') ?? init?.config.width ?? (hardware ? 1 : 16),
    epochs,
    batch: numberOption(values, 'batch') ?? recipe?.batch ?? (hardware ? 64 : 8),
    maxBatches: numberOption(values, 'max-batches') ?? (recipe ? recipe.maxBatches : hardware ? null : 40),
    optimizer,
    lr: numberOption(values, 'lr') ?? recipe?.lr ?? defaults.lr,
    weightDecay: numberOption(values, 'weight-decay') ?? recipe?.weightDecay ?? defaults.weightDecay,
    warmup: numberOption(values, 'warmup') ?? recipe?.warmup ?? Math.min(1, epochs - 1),
    seed: numberOption(values, 'seed') ?? 1,
    data: typeof values.data === 'string' ? resolve(values.data) : null,
  };
  const scheduleEpochs = numberOption(values, 'schedule-epochs') ?? recipe?.scheduleEpochs;
  if (scheduleEpochs !== undefined) settings.scheduleEpochs = scheduleEpochs;
  if (init) settings.init = init.file;
  if (recipeName !== undefined) settings.recipe = recipeName;
  Object.assign(settings, sepBnFlags(model, init?.config));
  const augment = values.augment ?? 'affine';
  if (!isAugmentName(augment)) throw new UsageError(`--augment must be one of ${AUGMENT_NAMES.join(', ')}, got "${String(augment)}"`);
  settings.augment = augment;
  // Here, not when the run starts: the data (drawn, the first time) come in between.
  checkSchedule(settings);
  checkSepBn(settings);
  return settings;
}

/** SepBN's flags and the setting each gives. */
const SEPBN_FLAGS: Array<[flag: string, setting: keyof typeof SEPBN_RUN_DEFAULTS]> = [
  ['sets', 'sets'],
  ['ratio', 'ratio'],
  ['groups', 'groups'],
  ['temperature-start', 'temperatureStart'],
  ['temperature-end', 'temperatureEnd'],
  ['temperature-step', 'temperatureStep'],
];

/**
 * A new SepBN run's sets, ratio, groups and temperature schedule: the flags, over the --init
 * weights' shape (their sets, ratio and groups fix the tensors' shapes), over the paper's. Other
 * networks have no SepBN layers, so the flags are refused for them.
 */
function sepBnFlags(model: ModelName, init?: VanillaCnnConfig): Partial<RunSettings> {
  if (model !== 'sepbn') {
    const given = SEPBN_FLAGS.find(([flag]) => values[flag] !== undefined);
    if (given) throw new UsageError(`--${given[0]} shapes SepBN layers, and --model ${model} has none`);
    return {};
  }
  const fromInit = init?.norm === 'sepbn' ? { sets: init.sepbn.K, ratio: init.sepbn.ratio, groups: init.sepbn.groups } : {};
  const defaults: Record<string, number> = { ...SEPBN_RUN_DEFAULTS, ...fromInit };
  return Object.fromEntries(SEPBN_FLAGS.map(([flag, setting]) => [setting, numberOption(values, flag) ?? defaults[setting]]));
}

/** The network and width of the --init weights, read from the file unless --model and --width say them; said on stderr when inferred. */
function initWeights(file: string): { file: string; config: VanillaCnnConfig } {
  const model = values.model;
  if (model !== undefined && !isModelName(model)) throw new UsageError(`--model must be one of ${MODEL_NAMES.join(', ')}, got "${model}"`);
  let weights: WeightsFile;
  let chosen: ReturnType<typeof chooseConfig>;
  try {
    weights = readWeightsFile(file);
    chosen = chooseConfig(file, weights, { model, width: numberOption(values, 'width') });
  } catch (err) {
    // Unreadable, refused or unrecognisable weights: the message names the file and says it all.
    throw isWeightsProblem(err) || err instanceof CheckpointError ? new UsageError(`--init: ${(err as Error).message}`) : err;
  }
  const { config, evidence } = chosen;
  const said = [...weights.notes, ...(evidence ? [evidence] : [])];
  if (said.length) process.stderr.write(`--init ${file}: ${FORMAT_NAMES[weights.format]}; ${said.join('; ')}\n`);
  return { file, config };
}

/** The flags that must match a resumed checkpoint's settings, and the setting each names. */
const FIXED_ON_RESUME: Array<[flag: string, setting: keyof RunSettings]> = [
  ['model', 'model'],
  ['width', 'width'],
  ['batch', 'batch'],
  ['max-batches', 'maxBatches'],
  ['optimizer', 'optimizer'],
  ['lr', 'lr'],
  ['weight-decay', 'weightDecay'],
  ['warmup', 'warmup'],
  ['seed', 'seed'],
  ['schedule-epochs', 'scheduleEpochs'],
];

/**
 * The checkpoint's settings, with the data folder moved by --data and the run extended by
 * --epochs; any other setting flag that differs is refused, never ignored.
 */
function resumedSettings(saved: SavedRun): RunSettings {
  const settings = { ...saved.settings, data: saved.settings.data === null ? null : resolve(saved.settings.data) };
  for (const [flag, name] of FIXED_ON_RESUME) {
    if (values[flag] === undefined) continue;
    const given = name === 'model' || name === 'optimizer' ? values[flag] : numberOption(values, flag);
    // A run saved without scheduleEpochs has the schedule span its epochs.
    const current = name === 'scheduleEpochs' ? (settings.scheduleEpochs ?? settings.epochs) : settings[name];
    if (given !== current) {
      const was = current ?? 'all';
      throw new RunError(`--${flag} ${String(values[flag])} differs from the checkpoint's ${was} (${saved.file}); a resumed run keeps its settings: leave --${flag} out, or start a new run`);
    }
  }
  for (const [flag, name] of SEPBN_FLAGS) {
    const given = numberOption(values, flag);
    if (given === undefined) continue;
    if (settings.model !== 'sepbn') throw new RunError(`--${flag} shapes SepBN layers, and the checkpoint's ${settings.model} network has none (${saved.file})`);
    const current = sepBnSettings(settings)[name];
    if (given !== current) throw new RunError(`--${flag} ${given} differs from the checkpoint's ${current} (${saved.file}); a resumed run keeps its settings: leave --${flag} out, or start a new run`);
  }
  const augment = settings.augment ?? 'affine';
  if (values.augment !== undefined && values.augment !== augment) {
    throw new RunError(`--augment ${String(values.augment)} differs from the checkpoint's ${augment} (${saved.file}); a resumed run keeps its settings: leave --augment out, or start a new run`);
  }
  const epochs = numberOption(values, 'epochs');
  if (epochs !== undefined) {
    if (!(Number.isInteger(epochs) && epochs >= saved.settings.epochs)) {
      throw new RunError(`--epochs ${epochs}: a resumed run can only be extended, and the checkpoint's run has ${saved.settings.epochs} epochs (${saved.file})`);
    }
    settings.epochs = epochs;
  }
  if (typeof values.data === 'string') {
    if (settings.data === null) throw new RunError(`--data ${values.data}: the checkpoint's run trained on the built-in synthetic faces (${saved.file}); leave --data out`);
    settings.data = resolve(values.data);
  }
  return settings;
}

async function train(): Promise<void> {
  const resumeFile = typeof values.resume === 'string' ? resolve(values.resume) : undefined;
  if (resumeFile && values.overwrite) throw new UsageError('--overwrite starts a new run; it does not go with --resume');
  for (const flag of ['recipe', 'init']) {
    if (resumeFile && values[flag] !== undefined) throw new UsageError(`--${flag} sets up a new run; a resumed run keeps its checkpoint's settings and weights: leave --${flag} out`);
  }
  // A .pth is a state dict, never a run: point at the flag that takes it rather than fail to parse it as safetensors.
  if (resumeFile && existsSync(resumeFile) && weightsFileFormat(resumeFile) !== 'safetensors') {
    throw new UsageError(`--resume ${resumeFile}: a PyTorch .pth holds weights but no run to continue; start a run from them with --init ${resumeFile}`);
  }
  const saved = resumeFile ? readRunCheckpoint(resumeFile) : undefined;
  const resumed = saved && { ...saved, settings: resumedSettings(saved) };
  // A resumed run goes on in the checkpoint's own folder. The folder is checked before the
  // backend and the data, which take a while, unless its default name waits on the backend's width.
  const mode = saved ? 'resume' : values.overwrite ? 'overwrite' : 'new';
  let out = typeof values.out === 'string' ? resolve(values.out) : resumeFile && dirname(resumeFile);
  if (out) checkOutFolder(out, mode);
  const backend = await openBackend(values.backend);
  const hardware = backend === 'webgpu' && gpuRuntime().adapter.kind === 'hardware';
  const settings = resumed?.settings ?? settingsFromFlags(hardware, typeof values.init === 'string' ? initWeights(resolve(values.init)) : undefined);
  if (!out) {
    out = resolve(join('runs', `${settings.model}-w${settings.width}-s${settings.seed}`));
    checkOutFolder(out, mode);
  }
  const files = resolveData(settings.data ?? undefined);
  const workers = numberOption(values, 'workers');
  const options = { out, overwrite: values.overwrite === true, openData: (s: RunSettings) => wflwRunData(files, s, workers) };
  const run = resumed ? TrainingRun.resume(resumed, options) : TrainingRun.start(settings, options);

  const stop = new AbortController();
  process.on('SIGINT', () => {
    if (stop.signal.aborted) process.exit(130);
    stop.abort();
    process.stderr.write('\ninterrupted: saving a checkpoint after this step (Ctrl-C again to quit without saving)\n');
  });

  process.stderr.write(
    `training ${settings.model} width 1/${settings.width} on ${backend}${backend === 'webgpu' ? ` (${gpuRuntime().adapter.description || gpuRuntime().adapter.device}, ${gpuRuntime().adapter.kind})` : ''}: ` +
      `${settings.epochs} epochs of ${run.batchesPerEpoch} batches of ${settings.batch}, ${describeOptimizer(settings)}${describeSepBn(settings)}, ` +
      `augmentation ${settings.augment ?? 'affine'}; data ${files.dir}; output ${out}\n`,
  );
  if (settings.recipe !== undefined && !resumed) {
    const overridden = RECIPE_FLAGS.filter((flag) => values[flag] !== undefined).map((flag) => `--${flag} ${String(values[flag])}`);
    process.stderr.write(`${describeRecipe(settings.recipe).join('\n')}\n  given here instead: ${overridden.length ? overridden.join(', ') : 'nothing'}\n`);
  }
  if (settings.init !== undefined && !resumed) process.stderr.write(`starting from the weights of ${settings.init}, with a fresh optimizer\n`);
  const profileFile = values.profile;
  let progress: Progress | undefined;
  let lastLoss = NaN;
  const outcome = await run.train({
    signal: stop.signal,
    onEpochStart: ({ epoch }) => {
      progress = new Progress(`epoch ${epoch + 1}/${settings.epochs}`, run.batchesPerEpoch);
      lastLoss = NaN;
    },
    onStep: ({ batch, loss, imagesPerSecond }) => {
      lastLoss = loss;
      progress?.update(batch + 1, `loss ${loss.toFixed(3)} ${imagesPerSecond.toFixed(1)} img/s`);
    },
    onEpochEnd: (line) => {
      process.stderr.write(
        `epoch ${line.epoch}: train loss ${line.train_loss.toFixed(4)} (last ${lastLoss.toFixed(4)}), test NME ${line.test_nme_percent.toFixed(2)} %, ` +
          `${line.images_per_second.toFixed(1)} img/s, ${formatSeconds(line.seconds)}\n`,
      );
    },
    onProfile: typeof profileFile === 'string' ? (timings) => writeProfile(profileFile, timings) : undefined,
  });
  if (outcome.stopped) {
    if (outcome.batchInEpoch > 0) {
      process.stderr.write(`saved ${run.checkpointFile} at epoch ${outcome.epoch + 1}, batch ${outcome.batchInEpoch}; continue with --resume ${shellWord(run.checkpointFile)}\n`);
    }
    process.exitCode = 130;
    return;
  }
  // The best epoch's file was saved by this run or, for a run resumed when already complete, by an earlier session.
  const best = existsSync(run.bestFile) ? readCheckpointInfo(run.bestFile).state : undefined;
  const bestNote = best?.testNmePercent === undefined ? '' : `; the best epoch, ${best.epoch} (test NME ${best.testNmePercent.toFixed(2)} %), is ${run.bestFile}`;
  // The hint is a whole command line: test reads the data folder and network from the checkpoint itself.
  process.stdout.write(`done: ${run.checkpointFile} (log ${run.logFile})${bestNote}\nscore it with: node cli/test.js --weights ${shellWord(run.checkpointFile)}\n`);
}

// The run's own errors are about what the user gave it (flags, checkpoint, folders): print them without a stack.
// A run's own refusals and a diverged run are messages for the user, not failures to debug.
const userFacing = (err: unknown): boolean => err instanceof RunError || err instanceof DivergenceError;
runMain(() => train().catch((err: unknown) => Promise.reject(userFacing(err) ? new UsageError((err as Error).message) : err)));

/** "sgd lr 0.001 momentum 0.9 weight decay 0.0005, warm-up 800 of 2000 schedule epochs". */
function describeOptimizer(settings: RunSettings): string {
  const momentum = settings.optimizer === 'sgd' ? ` momentum ${TRAINING_DEFAULTS.sgd.momentum}` : '';
  const schedule = settings.scheduleEpochs ?? settings.epochs;
  return `${settings.optimizer} lr ${settings.lr}${momentum} weight decay ${settings.weightDecay}, warm-up ${settings.warmup} of ${schedule} schedule epochs`;
}

/** ", SepBN 3 sets ratio 0.1 1 group, temperature 30 falling 1 an epoch to 1" for a SepBN run; "" for the others. */
function describeSepBn(settings: RunSettings): string {
  if (settings.model !== 'sepbn') return '';
  const s = sepBnSettings(settings);
  return `, SepBN ${s.sets} sets ratio ${s.ratio} ${s.groups} group${s.groups === 1 ? '' : 's'}, temperature ${s.temperatureStart} falling ${s.temperatureStep} an epoch to ${s.temperatureEnd}`;
}

/** A path as one word of a POSIX shell command line, quoted only when it needs to be, so a printed command runs as printed. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

function writeProfile(file: string, timings: KernelTiming[]): void {
  if (timings.length === 0) {
    process.stderr.write(`--profile: this adapter has no timestamp queries (or the backend is the CPU); no profile written\n`);
    return;
  }
  writeFileSync(file, JSON.stringify(chromeTrace(timings, 'one training step, kernel times from GPU timestamp queries')));
  const totals = kernelTotals(timings);
  const gpuMs = totals.reduce((a, k) => a + k.totalMs, 0);
  const lines = totals.slice(0, 12).map((k) => `  ${k.kernel.padEnd(28)}${String(k.calls).padStart(6)} calls ${k.totalMs.toFixed(1).padStart(9)} ms ${(100 * k.share).toFixed(1).padStart(6)} %`);
  process.stderr.write(`\nprofile of one step (${timings.length} dispatches, ${gpuMs.toFixed(1)} ms of kernels) written to ${file}; open it in https://ui.perfetto.dev\n${lines.join('\n')}\n\n`);
}
