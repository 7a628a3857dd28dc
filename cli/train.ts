// node cli/train.js: trains a landmark network; with no arguments, the SepBN network on the
// built-in synthetic faces, sized to finish in minutes on a software rasteriser and at full size
// on a hardware GPU.
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gpuRuntime } from '../engine/backend.ts';
import { chromeTrace, kernelTotals, type KernelTiming } from '../engine/webgpu/profiler.ts';
import { isModelName, MODEL_NAMES } from '../models/registry.ts';
import { wflwRunData } from '../data/run-data.ts';
import { checkOutFolder, isOptimizerKind, readRunCheckpoint, RunError, TrainingRun, type RunSettings, type SavedRun } from '../models/run.ts';
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
    seed: { type: 'string', value: 'S', help: 'seed of the weights, data order and augmentation (default: 1)' },
    workers: { type: 'string', value: 'N', default: '2', help: 'loader worker threads' },
    out: { type: 'string', value: 'DIR', help: 'where the log and checkpoints go (default: runs/<model>-w<W>-s<seed>)' },
    resume: { type: 'string', value: 'CKPT', help: "continue the run saved in this checkpoint, in its folder unless --out says otherwise; --data may move the data, --epochs extend the run, any other setting must match the checkpoint's" },
    overwrite: { type: 'boolean', help: 'start a new run even where --out holds one, replacing its log and checkpoint' },
    profile: { type: 'string', value: 'FILE', help: 'time the second step kernel by kernel (GPU timestamp queries) into a Chrome trace for Perfetto, and print the top kernels' },
    backend: backendOption,
  },
});

function settingsFromFlags(hardware: boolean): RunSettings {
  const model = values.model ?? 'sepbn';
  if (!isModelName(model)) throw new UsageError(`--model must be one of ${MODEL_NAMES.join(', ')}, got "${model}"`);
  const optimizer = values.optimizer ?? 'adam';
  if (!isOptimizerKind(optimizer)) throw new UsageError(`--optimizer must be adam, adamw or sgd, got "${optimizer}"`);
  const defaults = optimizer === 'sgd' ? TRAINING_DEFAULTS.sgd : TRAINING_DEFAULTS.adam;
  const epochs = numberOption(values, 'epochs') ?? (hardware ? 60 : 3);
  return {
    model,
    width: numberOption(values, 'width') ?? (hardware ? 1 : 16),
    epochs,
    batch: numberOption(values, 'batch') ?? (hardware ? 64 : 8),
    maxBatches: numberOption(values, 'max-batches') ?? (hardware ? null : 40),
    optimizer,
    lr: numberOption(values, 'lr') ?? defaults.lr,
    weightDecay: numberOption(values, 'weight-decay') ?? defaults.weightDecay,
    warmup: numberOption(values, 'warmup') ?? Math.min(1, epochs - 1),
    seed: numberOption(values, 'seed') ?? 1,
    data: typeof values.data === 'string' ? resolve(values.data) : null,
  };
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
    if (given !== settings[name]) {
      const was = settings[name] ?? 'all';
      throw new RunError(`--${flag} ${String(values[flag])} differs from the checkpoint's ${was} (${saved.file}); a resumed run keeps its settings: leave --${flag} out, or start a new run`);
    }
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
  const saved = resumeFile ? readRunCheckpoint(resumeFile) : undefined;
  const resumed = saved && { ...saved, settings: resumedSettings(saved) };
  // A resumed run goes on in the checkpoint's own folder. The folder is checked before the
  // backend and the data, which take a while, unless its default name waits on the backend's width.
  const mode = saved ? 'resume' : values.overwrite ? 'overwrite' : 'new';
  let out = typeof values.out === 'string' ? resolve(values.out) : resumeFile && dirname(resumeFile);
  if (out) checkOutFolder(out, mode);
  const backend = await openBackend(values.backend);
  const hardware = backend === 'webgpu' && gpuRuntime().adapter.kind === 'hardware';
  const settings = resumed?.settings ?? settingsFromFlags(hardware);
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
      `${settings.epochs} epochs of ${run.batchesPerEpoch} batches of ${settings.batch}, ${settings.optimizer} lr ${settings.lr}; data ${files.dir}; output ${out}\n`,
  );
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
        `epoch ${line.epoch}: train loss ${line.train_loss.toFixed(4)} (last ${lastLoss.toFixed(4)}), test NME ${(100 * line.test_nme).toFixed(2)} %, ` +
          `${line.images_per_second.toFixed(1)} img/s, ${formatSeconds(line.seconds)}\n`,
      );
    },
    onProfile: typeof profileFile === 'string' ? (timings) => writeProfile(profileFile, timings) : undefined,
  });
  if (outcome.stopped) {
    if (outcome.batchInEpoch > 0) {
      process.stderr.write(`saved ${run.checkpointFile} at epoch ${outcome.epoch + 1}, batch ${outcome.batchInEpoch}; continue with --resume ${run.checkpointFile}\n`);
    }
    process.exitCode = 130;
    return;
  }
  process.stdout.write(`done: ${run.checkpointFile} (log ${run.logFile}); score it with node cli/test.js --weights ${run.checkpointFile}\n`);
}

// The run's own errors are about what the user gave it (flags, checkpoint, folders): print them without a stack.
// A run's own refusals and a diverged run are messages for the user, not failures to debug.
const userFacing = (err: unknown): boolean => err instanceof RunError || err instanceof DivergenceError;
runMain(() => train().catch((err: unknown) => Promise.reject(userFacing(err) ? new UsageError((err as Error).message) : err)));

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
