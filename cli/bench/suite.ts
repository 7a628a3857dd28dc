// node cli/bench.js suite: everything a GPU session should measure, in one call. Both networks'
// full training step at batch 8 and 64 (images/s, GPU and host milliseconds, dispatches, copies,
// peak pool memory, the top kernels by GPU time), the convolution and matmul passes at the
// model's shapes in GFLOP/s, and how many workgroups each pass gives a large GPU under the plan in
// force (models/gpu-fill.ts). --quick shrinks widths and batches to what lavapipe runs in minutes.
import { numberOption } from '../args.ts';
import { gpuRuntime } from '../../engine/backend.ts';
import { planConv2dBackwardInput, planConv2dBackwardWeight, planConv2dForward } from '../../engine/ops/conv2d/plan.ts';
import { planMatmul } from '../../engine/ops/matmul-launch.ts';
import { Random } from '../../engine/random.ts';
import { describeKernelChoice } from '../../engine/webgpu/kernel-plan.ts';
import type { WebGpuRuntime } from '../../engine/webgpu/runtime.ts';
import { hardwarePlanFill } from '../../models/gpu-fill.ts';
import { modelConfig } from '../../models/registry.ts';
import { convLayerProblems, fullyConnectedPasses } from '../../models/step-shapes.ts';
import { bindPlan, formatTable, timeLaunches, type Benchmark, type Timed } from './benchmark.ts';
import { measure, type TrainMeasurement } from './train.ts';

interface Sizes {
  width: number;
  batches: number[];
  steps: number;
  /** Seconds each pass is timed for. */
  passSeconds: number;
}

/** Full size on a GPU; on --quick, width 1/16 and batches of 2 and 4, which lavapipe runs in a few minutes. */
const FULL: Sizes = { width: 1, batches: [8, 64], steps: 3, passSeconds: 0.5 };
const QUICK: Sizes = { width: 16, batches: [2, 4], steps: 1, passSeconds: 0.1 };

function randomBuffer(rt: WebGpuRuntime, floats: number, seed: number): GPUBuffer {
  const rng = new Random(seed);
  const buffer = rt.pool.acquire(floats * 4, 'suite input');
  rt.upload(buffer, Float32Array.from({ length: floats }, () => rng.uniform(-1, 1)));
  return buffer;
}

interface PassSpeed {
  pass: string;
  kernels: string;
  ms: number;
  gflops: number;
}

/** Times one pass as the op launches it (split passes with their sums) on random data. */
async function timePass(rt: WebGpuRuntime, pass: string, flops: number, bind: (held: GPUBuffer[]) => Timed, seconds: number): Promise<PassSpeed> {
  const held: GPUBuffer[] = [];
  const timed = bind(held);
  const s = await timeLaunches(rt, timed, seconds, true);
  for (const b of held) rt.pool.release(b);
  return { pass, kernels: timed.map(([l]) => l.kernel).join(' + '), ms: s * 1e3, gflops: flops / s / 1e9 };
}

/** The three passes of each convolution layer and of fc1 and fc2 at one batch size. */
async function passSpeeds(rt: WebGpuRuntime, sizes: Sizes, batch: number): Promise<PassSpeed[]> {
  const kernels = rt.kernels;
  const out: PassSpeed[] = [];
  for (const [i, { name, problem: p }] of convLayerProblems(sizes.width, batch).entries()) {
    const flops = 2 * batch * p.Co * p.Ci * 9 * p.H * p.W;
    const x = () => randomBuffer(rt, batch * p.Ci * p.H * p.W, 1);
    const w = () => randomBuffer(rt, p.Co * p.Ci * 9, 2);
    const y = () => randomBuffer(rt, batch * p.Co * p.H * p.W, 3);
    out.push(await timePass(rt, `${name} forward`, flops, (held) => {
      const [xb, wb, bb, yb] = [x(), w(), randomBuffer(rt, p.Co, 4), y()];
      held.push(xb, wb, bb, yb);
      return bindPlan(rt, planConv2dForward(p, kernels), [xb, wb, bb], yb, held);
    }, sizes.passSeconds));
    if (i > 0) {
      out.push(await timePass(rt, `${name} input gradient`, flops, (held) => {
        const [yb, wb, xb] = [y(), w(), x()];
        held.push(yb, wb, xb);
        return bindPlan(rt, planConv2dBackwardInput(p, kernels), [yb, wb], xb, held);
      }, sizes.passSeconds));
    }
    out.push(await timePass(rt, `${name} weight gradient`, flops, (held) => {
      const [xb, yb, wb] = [x(), y(), w()];
      held.push(xb, yb, wb);
      return bindPlan(rt, planConv2dBackwardWeight(p, kernels), [xb, yb], wb, held);
    }, sizes.passSeconds));
  }
  for (const { name, problem: m } of fullyConnectedPasses(sizes.width, batch)) {
    out.push(await timePass(rt, name, 2 * m.M * m.N * m.K, (held) => {
      const [a, b, bias, c] = [randomBuffer(rt, m.M * m.K, 5), randomBuffer(rt, m.K * m.N, 6), randomBuffer(rt, m.N, 7), randomBuffer(rt, m.M * m.N, 8)];
      held.push(a, b, bias, c);
      return bindPlan(rt, planMatmul(m, kernels), [a, b, bias], c, held, [bias]);
    }, sizes.passSeconds));
  }
  return out;
}

export const benchmark: Benchmark = {
  name: 'suite',
  summary: 'one call for a GPU session: both networks\' training step at batch 8 and 64, the top kernels, the conv and matmul passes in GFLOP/s, and each pass\'s workgroups',
  options: {
    quick: { type: 'boolean', help: 'width 1/16, batches 2 and 4, one timed step: minutes on lavapipe' },
    top: { type: 'string', value: 'N', default: '10', help: 'kernels listed per network and batch' },
    json: { type: 'boolean', help: 'print JSON' },
  },
  async run(values) {
    const rt = gpuRuntime();
    const sizes = values.quick ? QUICK : FULL;
    const top = numberOption(values, 'top') ?? 10;
    const started = performance.now();
    const steps: Array<TrainMeasurement & { batch: number }> = [];
    const passes: Array<PassSpeed & { batch: number }> = [];
    for (const batch of sizes.batches) {
      for (const name of ['baseline', 'sepbn'] as const) {
        process.stderr.write(`suite: ${name} width 1/${sizes.width} batch ${batch} training step...\n`);
        steps.push({ ...(await measure(name, sizes.width, batch, sizes.steps, undefined)), batch });
      }
      process.stderr.write(`suite: conv and matmul passes at batch ${batch}...\n`);
      for (const p of await passSpeeds(rt, sizes, batch)) passes.push({ ...p, batch });
    }
    const fill = sizes.batches.flatMap((batch) =>
      (['baseline', 'sepbn'] as const).flatMap((model) => hardwarePlanFill(modelConfig(model, sizes.width), batch, rt.kernels.limits).map((r) => ({ model, batch, ...r }))),
    );
    const seconds = (performance.now() - started) / 1000;
    const result = {
      benchmark: 'suite',
      adapter: rt.adapter,
      kernelPlan: rt.kernels.plan,
      width: sizes.width,
      seconds,
      steps: steps.map(({ kernels, ...s }) => ({ ...s, topKernels: kernels.slice(0, top) })),
      passes,
      fill,
    };
    if (!values.json) {
      process.stdout.write(`adapter: ${rt.adapter.description || rt.adapter.device} (${rt.adapter.kind}; kernel plan ${describeKernelChoice(rt.kernels, rt.adapter)}); width 1/${sizes.width}; ${seconds.toFixed(0)} s\n\n`);
      process.stdout.write(formatTable(
        ['network', 'batch', 'images/s', 'step ms', 'GPU ms', 'host ms', 'dispatches', 'copies', 'peak MiB'],
        steps.map((s) => [s.model, s.batch, s.imagesPerSecond, s.secondsPerStep * 1e3, s.kernelMs, s.recordMs, s.dispatches, s.copies, s.peakBytes / 2 ** 20]),
      ));
      for (const s of steps) {
        process.stdout.write(`\n${s.model} batch ${s.batch}: top kernels by GPU time\n`);
        process.stdout.write(formatTable(['kernel', 'calls', 'ms', 'share %'], s.kernels.slice(0, top).map((k) => [k.kernel, k.calls, k.totalMs, 100 * k.share])));
      }
      process.stdout.write('\npasses at the model\'s shapes\n');
      process.stdout.write(formatTable(['batch', 'pass', 'kernels', 'ms', 'GFLOP/s'], passes.map((p) => [p.batch, p.pass, p.kernels, p.ms, p.gflops])));
      process.stdout.write('\nworkgroups each pass gives a large GPU under the hardware plan (aim: 264 of at least 64 invocations)\n');
      process.stdout.write(formatTable(['network', 'batch', 'pass', 'kernel', 'workgroups', 'invocations', 'splits'], fill.map((f) => [f.model, f.batch, f.pass, f.kernel, f.workgroups, f.invocations, f.splits])));
    }
    return result;
  },
};
