// node cli/train.js: trains a landmark network; with no arguments, the SepBN network on the
// built-in synthetic faces, sized to finish in minutes on a software rasteriser and at full size
// on a hardware GPU.
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gpuRuntime } from '../engine/backend.ts';
import { chromeTrace, kernelTotals, type KernelTiming } from '../engine/webgpu/profiler.ts';
import { WflwLoader } from '../data/loader.ts';
import { predictFile, scoreFiles } from '../data/evaluate.ts';
import { readCheckpointInfo, restoreCheckpoint, saveCheckpoint, type RunState } from '../models/checkpoint.ts';
import { buildModel, isModelName, MODEL_NAMES, modelConfig, modelNameOf } from '../models/registry.ts';
import { trainEpoch } from '../models/trainer.ts';
import { createOptimizer, TRAINING_DEFAULTS, type OptimizerKind } from '../nn/optim/optimizer.ts';
import { sepBnTemperature, warmupCosine } from '../nn/optim/schedule.ts';
import { numberOption, parseCommand } from './args.ts';
import { resolveData } from './dataset.ts';
import { backendOption, openBackend, runMain, UsageError } from './main.ts';
import { formatSeconds, Progress } from './progress.ts';

const { values } = parseCommand({
  usage: 'node cli/train.js [options]',
  summary:
    'Trains the Vanilla CNN (baseline), its SepBN version (sepbn) or a BatchNorm ablation (bn) for 98 WFLW\n' +
    'landmarks with the L1 loss. Without --data it uses the built-in synthetic faces. Each epoch it scores\n' +
    'the test set, appends a line to OUT/log.jsonl and saves OUT/last.safetensors (weights with PyTorch names)\n' +
    'and OUT/last.optim.safetensors; Ctrl-C saves and exits; --resume continues exactly where a run stopped.',
  options: {
    data: { type: 'string', value: 'DIR', help: 'prepared WFLW256 folder (train.txt, test.txt, test_*.txt from cli/prepare.js)' },
    model: { type: 'string', value: MODEL_NAMES.join('|'), default: 'sepbn', help: 'which network' },
    width: { type: 'string', value: 'W', help: 'width divisor (default: 1 on a hardware GPU, 16 on a software one or the CPU)' },
    epochs: { type: 'string', value: 'N', help: 'epochs (default: 60 on a hardware GPU, 3 otherwise)' },
    batch: { type: 'string', value: 'N', help: 'batch size (default: 64 on a hardware GPU, 8 otherwise)' },
    'max-batches': { type: 'string', value: 'N', help: 'at most N batches per epoch (default: all on a hardware GPU, 40 otherwise)' },
    optimizer: { type: 'string', value: 'adam|adamw|sgd', default: 'adam', help: 'update rule' },
    lr: { type: 'string', value: 'LR', help: 'base learning rate (default: 1e-3)' },
    'weight-decay': { type: 'string', value: 'WD', help: 'weight decay (default: 0 for Adam, 5e-4 for SGD)' },
    warmup: { type: 'string', value: 'EPOCHS', help: 'linear warm-up epochs before the cosine decay (default: 1, or 0 for a one-epoch run)' },
    seed: { type: 'string', value: 'S', default: '1', help: 'seed of the weights, data order and augmentation' },
    workers: { type: 'string', value: 'N', default: '2', help: 'loader worker threads' },
    out: { type: 'string', value: 'DIR', help: 'where the log and checkpoints go (default: runs/<model>-w<W>-s<seed>)' },
    resume: { type: 'string', value: 'CKPT', help: 'continue the run saved in this checkpoint (its settings win)' },
    profile: { type: 'string', value: 'FILE', help: 'time the second step kernel by kernel (GPU timestamp queries) into a Chrome trace for Perfetto, and print the top kernels' },
    backend: backendOption,
  },
});

interface RunSettings {
  model: string;
  width: number;
  epochs: number;
  batch: number;
  maxBatches: number | null;
  optimizer: OptimizerKind;
  lr: number;
  weightDecay: number;
  warmup: number;
  seed: number;
  data: string | null;
}

function settingsFromFlags(hardware: boolean): RunSettings {
  const model = values.model;
  if (!isModelName(model)) throw new UsageError(`--model must be one of ${MODEL_NAMES.join(', ')}, got "${model}"`);
  const optimizer = values.optimizer as OptimizerKind;
  if (!['adam', 'adamw', 'sgd'].includes(optimizer)) throw new UsageError(`--optimizer must be adam, adamw or sgd, got "${optimizer}"`);
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
    data: (values.data as string | undefined) ?? null,
  };
}

runMain(async () => {
  const backend = await openBackend(values.backend);
  const hardware = backend === 'webgpu' && gpuRuntime().adapter.kind === 'hardware';
  let settings = settingsFromFlags(hardware);
  let resumed: { file: string; state: RunState } | undefined;
  if (values.resume) {
    const file = resolve(values.resume as string);
    const info = readCheckpointInfo(file);
    settings = info.state.run as unknown as RunSettings;
    resumed = { file, state: info.state };
  }
  const data = resolveData(settings.data ?? undefined);
  const out = resolve((values.out as string | undefined) ?? join('runs', `${settings.model}-w${settings.width}-s${settings.seed}`));
  mkdirSync(out, { recursive: true });

  const config = modelConfig(settings.model as never, settings.width, settings.seed);
  const model = buildModel(config);
  const optimizer = createOptimizer(settings.optimizer, model.namedParameters(), { lr: settings.lr, weightDecay: settings.weightDecay });
  if (resumed) restoreCheckpoint(resumed.file, model, optimizer);
  const loader = new WflwLoader({ annotationFile: data.train, batchSize: settings.batch, train: true, seed: settings.seed, workers: numberOption(values, 'workers') });
  const batchesPerEpoch = Math.min(loader.batchesPerEpoch, settings.maxBatches ?? Infinity);
  if (batchesPerEpoch < 1) throw new UsageError(`${data.train} has ${loader.samples.length} faces: fewer than one batch of ${settings.batch}`);
  const schedule = warmupCosine({ baseLr: settings.lr, warmupEpochs: settings.warmup, totalEpochs: settings.epochs });
  const logFile = join(out, 'log.jsonl');
  if (!resumed) writeFileSync(join(out, 'settings.json'), JSON.stringify({ ...settings, modelName: modelNameOf(config) }, null, 2) + '\n');
  else if (!existsSync(logFile)) throw new UsageError(`${out} has no log.jsonl to continue; pass the --out of the run being resumed`);

  let stopRequested = false;
  process.on('SIGINT', () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    process.stderr.write('\ninterrupted: saving a checkpoint after this step (Ctrl-C again to quit without saving)\n');
  });

  process.stderr.write(
    `training ${settings.model} width 1/${settings.width} on ${backend}${backend === 'webgpu' ? ` (${gpuRuntime().adapter.description || gpuRuntime().adapter.device}, ${gpuRuntime().adapter.kind})` : ''}: ` +
      `${settings.epochs} epochs of ${batchesPerEpoch} batches of ${settings.batch}, ${settings.optimizer} lr ${settings.lr}; data ${data.dir}; output ${out}\n`,
  );
  let step = resumed?.state.step ?? 0;
  try {
    for (let epoch = resumed?.state.epoch ?? 0; epoch < settings.epochs; epoch++) {
      const temperature = sepBnTemperature(epoch);
      model.temperature = temperature;
      const skip = epoch === resumed?.state.epoch ? resumed.state.batchInEpoch : 0;
      const progress = new Progress(`epoch ${epoch + 1}/${settings.epochs}`, batchesPerEpoch);
      let lastLoss = NaN;
      const report = await trainEpoch(model, optimizer, limit(loader.epoch(epoch), batchesPerEpoch), {
        epoch,
        batchesPerEpoch,
        skipBatches: skip,
        schedule,
        shouldStop: () => stopRequested,
        profile: values.profile && epoch === (resumed?.state.epoch ?? 0) ? { batch: Math.min(skip + 1, batchesPerEpoch - 1), onTimings: (timings) => writeProfile(values.profile as string, timings) } : undefined,
        onStep: ({ batch, loss, imagesPerSecond }) => {
          lastLoss = loss;
          progress.update(batch + 1, `loss ${loss.toFixed(3)} ${imagesPerSecond.toFixed(1)} img/s`);
        },
      });
      step += report.batches - skip;
      const carried = epoch === resumed?.state.epoch ? resumed.state.epochLoss : { sum: 0, count: 0 };
      const epochLoss = { sum: carried.sum + report.lossSum, count: carried.count + report.lossCount };
      const state = (batchInEpoch: number, epochsDone: number): RunState => ({
        epoch: epochsDone,
        batchInEpoch,
        step,
        temperature,
        epochLoss: batchInEpoch > 0 ? epochLoss : { sum: 0, count: 0 },
        run: settings as unknown as Record<string, unknown>,
      });
      if (stopRequested && report.batches < batchesPerEpoch) {
        await saveCheckpoint(join(out, 'last.safetensors'), model, optimizer, state(report.batches, epoch));
        process.stderr.write(`saved ${join(out, 'last.safetensors')} at epoch ${epoch + 1}, batch ${report.batches}; continue with --resume ${join(out, 'last.safetensors')}\n`);
        process.exitCode = 130;
        return;
      }
      const scores = scoreFiles(await predictFile(model, data.test, { batchSize: settings.batch, workers: numberOption(values, 'workers') }), data.testSets.slice(0, 1));
      const line = {
        epoch: epoch + 1,
        lr: optimizer.lr,
        temperature,
        train_loss: epochLoss.sum / epochLoss.count,
        test_nme: scores[0].nme,
        seconds: report.seconds,
        images_per_second: report.images / report.seconds,
      };
      appendFileSync(logFile, JSON.stringify(line) + '\n');
      await saveCheckpoint(join(out, 'last.safetensors'), model, optimizer, state(0, epoch + 1));
      process.stderr.write(
        `epoch ${epoch + 1}: train loss ${(epochLoss.sum / epochLoss.count).toFixed(4)} (last ${lastLoss.toFixed(4)}), test NME ${(100 * scores[0].nme).toFixed(2)} %, ` +
          `${(report.images / report.seconds).toFixed(1)} img/s, ${formatSeconds(report.seconds)}\n`,
      );
      if (stopRequested) {
        process.exitCode = 130;
        return;
      }
    }
    process.stdout.write(`done: ${join(out, 'last.safetensors')} (log ${logFile}); score it with node cli/test.js --weights ${join(out, 'last.safetensors')}\n`);
  } finally {
    await loader.close();
  }
});

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

/** The first `count` items of an async iterable. */
async function* limit<T>(items: AsyncIterable<T>, count: number): AsyncGenerator<T> {
  if (count <= 0) return;
  let n = 0;
  for await (const item of items) {
    yield item;
    if (++n >= count) return;
  }
}
