// The hardware plan (the workgroup-memory tilings a GPU takes) at the model's own shapes, run here
// by forcing the plan on whatever adapter this machine has, with its limits: each of the six
// convolution layers at batch 1, and 2 with SEPBN_FULL_SIZE=1 (forward with bias and LeakyReLU, input gradient, weight
// gradient, with and without split-K) and the fully connected layers at batch 1 and 8, against the
// Float64 CPU reference; then the convolution's witness cases and a few more that split, under
// WebGPU's default limits (16 KiB tiles) and the adapter's.
import t, { type Test } from 'tap';
import { backward } from '../../engine/autodiff.ts';
import { gpuRuntime, useBackend } from '../../engine/backend.ts';
import { normal } from '../../engine/create.ts';
import { checkGpuAgainstCpu, maxRelativeError } from '../../engine/gradcheck.ts';
import { conv2d, witnesses as convWitnesses } from '../../engine/ops/conv2d/conv2d.ts';
import { conv2dBackwardInputLaunches, conv2dForwardLaunches } from '../../engine/ops/conv2d/hardware-launch.ts';
import { planConv2dBackwardInput, planConv2dBackwardWeight, planConv2dForward } from '../../engine/ops/conv2d/plan.ts';
import type { Conv2dProblem } from '../../engine/ops/conv2d/problem.ts';
import { linear } from '../../engine/ops/matmul.ts';
import { planMatmul, type MatmulProblem } from '../../engine/ops/matmul-launch.ts';
import { scope } from '../../engine/scope.ts';
import type { BackendName, Tensor } from '../../engine/tensor.ts';
import type { KernelChoice } from '../../engine/webgpu/kernel-plan.ts';
import type { WitnessCase } from '../../engine/ops/witness.ts';
import { FULL_CHANNELS, FULL_HIDDEN, INPUT_SIZE, LANDMARKS } from '../../models/vanilla-cnn.ts';
import { withGpu } from '../gpu.ts';

const HARDWARE: KernelChoice = { plan: 'hardware' };
/** f32 sums of up to 9216 products against Float64: relative to each tensor's largest value. */
const TOLERANCE = 2e-5;

const layers = FULL_CHANNELS.map((co, i) => ({ layer: i + 1, ci: i === 0 ? 3 : FULL_CHANNELS[i - 1], co, side: INPUT_SIZE >> i }));

function layerProblem(l: (typeof layers)[number], n: number): Conv2dProblem {
  return { N: n, Ci: l.ci, H: l.side, W: l.side, Co: l.co, KH: 3, KW: 3, stride: 1, pad: 1, hasBias: true, activation: 'leaky_relu', slope: 0.01 };
}

/** y, dx, dw, db of one convolution layer with a fixed upstream gradient. */
function convolve(backend: BackendName, n: number, l: (typeof layers)[number]): Promise<Float64Array[]> {
  return scope(async () => {
    const opts = (seed: number) => ({ seed, backend, requiresGrad: true });
    const x = normal([n, l.ci, l.side, l.side], opts(1));
    const w = normal([l.co, l.ci, 3, 3], { ...opts(2), std: 1 / Math.sqrt(9 * l.ci) });
    const b = normal([l.co], opts(3));
    const y = conv2d(x, w, { bias: b, pad: 1, leakySlope: 0.01 });
    backward(y, { grad: normal(y.shape, { seed: 4, backend }) });
    return read([y, x.grad!, w.grad!, b.grad!]);
  });
}

/** y, dx, dw, db of a Linear layer with a fixed upstream gradient. */
function fullyConnected(backend: BackendName, n: number, inputs: number, outputs: number): Promise<Float64Array[]> {
  return scope(async () => {
    const opts = (seed: number) => ({ seed, backend, requiresGrad: true });
    const x = normal([n, inputs], opts(5));
    const w = normal([outputs, inputs], { ...opts(6), std: 1 / Math.sqrt(inputs) });
    const b = normal([outputs], opts(7));
    const y = linear(x, w, b);
    backward(y, { grad: normal(y.shape, { seed: 8, backend }) });
    return read([y, x.grad!, w.grad!, b.grad!]);
  });
}

function read(tensors: Tensor[]): Promise<Float64Array[]> {
  return Promise.all(tensors.map(async (v) => Float64Array.from(await v.toArray())));
}

/** The hardware plan with the adapter's own limits (its workgroup memory, invocations, bindings). */
function adapterHardware(): KernelChoice {
  return { plan: 'hardware', limits: gpuRuntime().kernels.limits };
}

/** Runs `body` with the runtime on the webgpu backend under `kernels`, restoring both after. */
async function under<T>(kernels: () => KernelChoice, body: () => Promise<T>): Promise<T> {
  await useBackend('webgpu');
  const previous = gpuRuntime().kernels;
  gpuRuntime().kernels = kernels();
  try {
    return await body();
  } finally {
    gpuRuntime().kernels = previous;
    await useBackend('cpu');
  }
}

async function compare(t: Test, label: string, run: (backend: BackendName) => Promise<Float64Array[]>): Promise<void> {
  const reference = await run('cpu');
  await under(adapterHardware, async () => {
    const gpu = await run('webgpu');
    ['y', 'grad x', 'grad weight', 'grad bias'].forEach((name, i) => {
      const err = maxRelativeError(gpu[i], reference[i]);
      t.ok(err < TOLERANCE, `${label} ${name}: relative difference ${err.toExponential(2)}`);
    });
  });
}

t.test('the hardware plan takes the tilings at every model shape, with and without split-K', async (t) => {
  const splits: number[] = [];
  for (const l of layers) {
    for (const n of [1, 2, 8]) {
      const p = layerProblem(l, n);
      const forward = planConv2dForward(p, HARDWARE);
      const input = planConv2dBackwardInput(p, HARDWARE);
      t.equal(forward.launches[0].kernel, 'conv2d_forward');
      t.equal(input.launches[0].kernel, 'conv2d_backward_input');
      // Every pass but the first layer's forward (K = 27, one k step) splits at batch 1 and 2.
      if (n <= 2) t.ok(input.splits > 1 && (l.layer === 1 || forward.splits > 1), `layer ${l.layer} batch ${n}: forward ${forward.splits} splits, input gradient ${input.splits}`);
      const weight = planConv2dBackwardWeight(p, HARDWARE);
      t.equal(weight.launches[0].kernel, 'conv2d_backward_weight');
      if (n <= 2) splits.push(weight.splits);
    }
  }
  t.ok(splits.some((s) => s === 1) && splits.some((s) => s > 1), `weight gradients with one split and with several (${splits.join(', ')})`);
  for (const [M, K, N] of [[1, 8192, 2048], [8, 8192, 2048], [8, 2048, 196], [2048, 8, 8192], [196, 8, 2048]]) {
    t.notMatch(planMatmul({ M, K, N }, HARDWARE).launches[0]!.kernel, /subgroup|naive/, `matmul ${M}x${K}x${N} takes a tiling`);
  }
});

// Batch 1 already splits every pass but the first layer's forward; batch 2 doubles the Float64
// reference's minutes, so it runs only when asked (SEPBN_FULL_SIZE=1, as the full-size gradients).
const LAYER_BATCHES = process.env.SEPBN_FULL_SIZE === '1' ? [1, 2] : [1];

t.test('convolution layers under the hardware plan match the Float64 CPU', async (t) => {
  if (!(await withGpu(t))) return;
  const kernels = await under(adapterHardware, async () => gpuRuntime().kernels);
  for (const l of layers) {
    for (const n of LAYER_BATCHES) {
      const p = layerProblem(l, n);
      const splits = [planConv2dForward(p, kernels), planConv2dBackwardInput(p, kernels), planConv2dBackwardWeight(p, kernels)].map((plan) => plan.splits);
      t.ok(splits[1] > 1 && (l.layer === 1 || splits[0] > 1), `layer ${l.layer} batch ${n} splits its forward and input gradient`);
      await compare(t, `layer ${l.layer} x[${n},${l.ci},${l.side},${l.side}] -> ${l.co} (splits ${splits.join('/')})`, (backend) => convolve(backend, n, l));
    }
  }
});

/** Convolutions whose forward (with bias and LeakyReLU, odd kernels and strides) or input gradient split under any limits. */
const splitShapes = [
  { x: [2, 40, 5, 6], w: [9, 40, 3, 3], stride: 1, pad: 1, splits: 'forward' },
  { x: [1, 16, 9, 8], w: [12, 16, 5, 5], stride: 2, pad: 2, splits: 'forward and input gradient' },
  { x: [2, 3, 6, 5], w: [70, 3, 2, 3], stride: 1, pad: 0, splits: 'input gradient' },
] as const;
const splitCases: WitnessCase[] = splitShapes.map(({ x, w, stride, pad }) => ({
  label: `${w[2]}x${w[3]} s${stride} p${pad} + bias + leaky_relu x[${x.join(',')}] -> ${w[0]} (split-K forward or input gradient)`,
  inputs: [{ shape: [...x], name: 'x' }, { shape: [...w], name: 'weight' }, { shape: [w[0]], name: 'bias' }],
  call: ([xt, wt, bt]) => conv2d(xt, wt, { bias: bt, stride, pad, leakySlope: 0.01 }),
  gpuTolerance: 2e-5,
}));

t.test('the split cases split what they say, under the default limits', async (t) => {
  for (const { x: [N, Ci, H, W], w: [Co, , KH, KW], stride, pad, splits } of splitShapes) {
    const p: Conv2dProblem = { N, Ci, H, W, Co, KH, KW, stride, pad, hasBias: true, activation: 'leaky_relu', slope: 0.01 };
    const counts = { forward: conv2dForwardLaunches(p).splits, input: conv2dBackwardInputLaunches(p).splits };
    t.equal(counts.forward > 1, splits.includes('forward'), `x[${N},${Ci},${H},${W}] ${KH}x${KW}: forward ${counts.forward} splits`);
    t.equal(counts.input > 1, splits.includes('input'), `x[${N},${Ci},${H},${W}] ${KH}x${KW}: input gradient ${counts.input} splits`);
  }
});

t.test('the convolution witness cases under the hardware plan match the CPU', async (t) => {
  if (!(await withGpu(t))) return;
  const cases = [...convWitnesses.flatMap((w) => w.cases), ...splitCases];
  for (const [limitsName, kernels] of [['WebGPU default limits', () => HARDWARE], ["the adapter's limits", adapterHardware]] as const) {
    for (const c of cases) {
      const rows = await under(kernels, () => checkGpuAgainstCpu('conv2d', c));
      for (const r of rows) t.ok(r.pass, `${limitsName} ${c.label} ${r.check}: max error ${r.maxError.toExponential(2)} <= ${r.tolerance}`);
    }
  }
});

t.test('fully connected layers under the hardware plan match the Float64 CPU', async (t) => {
  if (!(await withGpu(t))) return;
  const kernels = await under(adapterHardware, async () => gpuRuntime().kernels);
  const fc1Inputs = FULL_CHANNELS[FULL_CHANNELS.length - 1] * 4;
  for (const n of [1, 8]) {
    for (const [name, inputs, outputs] of [['fc1', fc1Inputs, FULL_HIDDEN], ['fc2', FULL_HIDDEN, 2 * LANDMARKS]] as const) {
      // Forward x·Wᵀ, input gradient g·W, weight gradient gᵀ·x.
      const passes: MatmulProblem[] = [
        { M: n, K: inputs, N: outputs, transB: true, hasBias: true },
        { M: n, K: outputs, N: inputs },
        { M: outputs, K: n, N: inputs, transA: true },
      ];
      const splits = passes.map((p) => planMatmul(p, kernels).splits);
      t.ok(splits[0] > 1 && splits[1] > 1, `${name} batch ${n} splits K in its forward and input gradient`);
      await compare(t, `${name} [${n},${inputs}] -> ${outputs} (splits ${splits.join('/')})`, (backend) => fullyConnected(backend, n, inputs, outputs));
    }
  }
});
