// node cli/bench.js train: images/s of a full training step (forward, backward, Adam), the
// commands a step records (dispatches, buffer copies) and the host time recording them takes, and
// the share of GPU time in each kernel, for a network and, in the same run, the baseline it is
// compared with.
import { writeFileSync } from 'node:fs';
import { gpuRuntime } from '../../engine/backend.ts';
import { Random } from '../../engine/random.ts';
import { chromeTrace, kernelTotals, type KernelTotal } from '../../engine/webgpu/profiler.ts';
import { buildModel, isModelName, MODEL_NAMES, modelConfig, type ModelName } from '../../models/registry.ts';
import { trainStep, type LandmarkBatch } from '../../models/trainer.ts';
import type { VanillaCnn } from '../../models/vanilla-cnn.ts';
import { createOptimizer, type Optimizer } from '../../nn/optim/optimizer.ts';
import { numberOption } from '../args.ts';
import { UsageError } from '../main.ts';
import { formatTable, type Benchmark } from './benchmark.ts';
import { LANDMARK_COUNT } from '../../data/topology.ts';
import { describeKernelChoice } from '../../engine/webgpu/kernel-plan.ts';

export interface TrainMeasurement {
  model: ModelName;
  secondsPerStep: number;
  imagesPerSecond: number;
  /** Compute dispatches one step records. */
  dispatches: number;
  /** Buffer copies one step records (the batch's uploads and the loss readback included). */
  copies: number;
  /** Host milliseconds to record and submit one step (JavaScript time, apart from the GPU's), mean of the timed steps. */
  recordMs: number;
  /** The most GPU memory the network's weights, optimizer state and steps held at once (pool bytes). */
  peakBytes: number;
  profiledStepMs: number;
  kernelMs: number;
  kernels: KernelTotal[];
}

function randomBatch(n: number): LandmarkBatch {
  const rng = new Random(7);
  return {
    images: Float32Array.from({ length: n * 3 * 128 * 128 }, () => rng.uniform(-1, 1)),
    landmarks: Float32Array.from({ length: n * 2 * LANDMARK_COUNT }, () => rng.uniform(20, 108)),
  };
}

interface StepCommands {
  dispatches: number;
  copies: number;
  recordMs: number;
}

/** Runs one step, counting the commands it records and the host time recording them takes. */
async function countedStep(model: VanillaCnn, optimizer: Optimizer, batch: LandmarkBatch): Promise<StepCommands> {
  const rt = gpuRuntime();
  const [dispatches, copies] = [rt.dispatchCount, rt.copyCount];
  const start = performance.now();
  const loss = trainStep(model, optimizer, batch);
  const recordMs = performance.now() - start;
  const commands = { dispatches: rt.dispatchCount - dispatches, copies: rt.copyCount - copies, recordMs };
  await loss;
  return commands;
}

export async function measure(name: ModelName, width: number, batchSize: number, steps: number, profileFile: string | undefined): Promise<TrainMeasurement> {
  const rt = gpuRuntime();
  rt.pool.trim();
  rt.pool.resetPeak();
  // Networks timed earlier in the run still hold their weights: count from what is in use now.
  const bytesBefore = rt.pool.bytesInUse;
  const model = buildModel(modelConfig(name, width, 1));
  const optimizer = createOptimizer('adam', model.namedParameters(), { lr: 1e-4 });
  const batch = randomBatch(batchSize);
  await trainStep(model, optimizer, batch); // compiles every pipeline
  const start = performance.now();
  const counted: StepCommands[] = [];
  for (let i = 0; i < steps; i++) counted.push(await countedStep(model, optimizer, batch));
  const secondsPerStep = (performance.now() - start) / 1000 / steps;
  // Every step after the first records the same commands; the last one's are reported.
  const { dispatches, copies } = counted.at(-1)!;
  const profiling = rt.startProfiling();
  const profiledStart = performance.now();
  await trainStep(model, optimizer, batch);
  const records = await rt.stopProfiling();
  const profiledStepMs = performance.now() - profiledStart;
  if (profileFile && profiling) writeFileSync(profileFile, JSON.stringify(chromeTrace(records, `${name} width 1/${width} batch ${batchSize}, one training step`)));
  const kernels = kernelTotals(records);
  optimizer.dispose(); // its state buffers go back to the pool for the next network timed
  return {
    model: name,
    secondsPerStep,
    imagesPerSecond: batchSize / secondsPerStep,
    dispatches,
    copies,
    recordMs: counted.reduce((a, c) => a + c.recordMs, 0) / steps,
    peakBytes: rt.pool.peakBytesInUse - bytesBefore,
    profiledStepMs,
    kernelMs: kernels.reduce((a, k) => a + k.totalMs, 0),
    kernels,
  };
}

export const benchmark: Benchmark = {
  name: 'train',
  summary: 'images/s of a full training step (forward, backward, Adam), its dispatches, copies and host recording time, and each kernel\'s share of GPU time, beside the baseline network',
  options: {
    model: { type: 'string', value: MODEL_NAMES.join('|'), default: 'sepbn', help: 'network to time' },
    batch: { type: 'string', value: 'N', default: '8', help: 'batch size' },
    width: { type: 'string', value: 'W', default: '1', help: 'width divisor (1 is full size)' },
    steps: { type: 'string', value: 'N', default: '2', help: 'timed steps after one warm-up step (at least 1)' },
    top: { type: 'string', value: 'N', default: '12', help: 'kernels listed per network' },
    profile: { type: 'string', value: 'FILE', help: 'write the profiled step of the first network as a Chrome trace (Perfetto)' },
    json: { type: 'boolean', help: 'print JSON' },
  },
  async run(values) {
    if (!isModelName(values.model)) throw new UsageError(`--model must be one of ${MODEL_NAMES.join(', ')}`);
    const width = numberOption(values, 'width') ?? 1;
    const batch = numberOption(values, 'batch') ?? 8;
    const steps = numberOption(values, 'steps') ?? 2;
    if (!Number.isInteger(steps) || steps < 1) throw new UsageError(`--steps must be a whole number of at least 1, got ${steps}`);
    const names: ModelName[] = values.model === 'baseline' ? ['baseline'] : [values.model, 'baseline'];
    const results: TrainMeasurement[] = [];
    for (const [i, name] of names.entries()) {
      process.stderr.write(`timing ${name} width 1/${width} batch ${batch}...\n`);
      results.push(await measure(name, width, batch, steps, i === 0 ? (values.profile as string | undefined) : undefined));
    }
    const rt = gpuRuntime();
    if (!values.json) {
      process.stdout.write(`adapter: ${rt.adapter.description || rt.adapter.device} (${rt.adapter.kind}; kernel plan ${describeKernelChoice(rt.kernels, rt.adapter)}); width 1/${width}, batch ${batch}\n\n`);
      process.stdout.write(
        formatTable(
          ['network', 's/step', 'images/s', 'vs baseline', 'dispatches/step', 'copies/step', 'record ms/step', 'profiled step ms', 'kernel ms (timestamps)'],
          results.map((r) => [
            r.model,
            r.secondsPerStep,
            r.imagesPerSecond,
            `${(r.secondsPerStep / results.at(-1)!.secondsPerStep).toFixed(3)}x`,
            r.dispatches,
            r.copies,
            r.recordMs,
            r.profiledStepMs,
            r.kernelMs,
          ]),
        ),
      );
      const top = numberOption(values, 'top') ?? 12;
      for (const r of results) {
        process.stdout.write(`\n${r.model}: share of GPU time by kernel\n`);
        process.stdout.write(formatTable(['kernel', 'calls', 'ms', 'share %'], r.kernels.slice(0, top).map((k) => [k.kernel, k.calls, k.totalMs, 100 * k.share])));
      }
      if (values.profile) process.stdout.write(`\ntrace of ${results[0].model}'s profiled step: ${values.profile} (open in https://ui.perfetto.dev)\n`);
    }
    return { benchmark: 'train', adapter: rt.adapter, kernelPlan: rt.kernels.plan, width, batch, results };
  },
};
