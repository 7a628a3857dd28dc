// The hardware plan (the workgroup-memory tilings a GPU takes) at the model's own shapes, run here
// by forcing the plan on whatever adapter this machine has: each of the six convolution layers at
// batch 1 and 2 (forward with bias and LeakyReLU, input gradient, weight gradient with and without
// split-K) and the fully connected layers at batch 1 and 8, against the Float64 CPU reference.
import t, { type Test } from 'tap';
import { backward } from '../../engine/autodiff.ts';
import { gpuRuntime, useBackend } from '../../engine/backend.ts';
import { normal } from '../../engine/create.ts';
import { maxRelativeError } from '../../engine/gradcheck.ts';
import { conv2d } from '../../engine/ops/conv2d/conv2d.ts';
import { planConv2dBackwardInput, planConv2dBackwardWeight, planConv2dForward } from '../../engine/ops/conv2d/plan.ts';
import type { Conv2dProblem } from '../../engine/ops/conv2d/problem.ts';
import { linear } from '../../engine/ops/matmul.ts';
import { planMatmul } from '../../engine/ops/matmul-launch.ts';
import { scope } from '../../engine/scope.ts';
import type { BackendName, Tensor } from '../../engine/tensor.ts';
import type { KernelChoice } from '../../engine/webgpu/kernel-plan.ts';
import { FULL_CHANNELS, FULL_HIDDEN, INPUT_SIZE, LANDMARKS } from '../../models/vanilla-cnn.ts';
import { withGpu } from '../gpu.ts';

const HARDWARE: KernelChoice = { plan: 'hardware' };
/** f32 sums of up to 9216 products against Float64: relative to each tensor's largest value. */
const TOLERANCE = 2e-5;

const layers = FULL_CHANNELS.map((co, i) => ({ layer: i + 1, ci: i === 0 ? 3 : FULL_CHANNELS[i - 1], co, side: INPUT_SIZE >> i }));

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

async function compare(t: Test, label: string, run: (backend: BackendName) => Promise<Float64Array[]>): Promise<void> {
  const reference = await run('cpu');
  await useBackend('webgpu');
  const previous = gpuRuntime().kernels;
  gpuRuntime().kernels = HARDWARE;
  try {
    const gpu = await run('webgpu');
    ['y', 'grad x', 'grad weight', 'grad bias'].forEach((name, i) => {
      const err = maxRelativeError(gpu[i], reference[i]);
      t.ok(err < TOLERANCE, `${label} ${name}: relative difference ${err.toExponential(2)}`);
    });
  } finally {
    gpuRuntime().kernels = previous;
    await useBackend('cpu');
  }
}

t.test('the hardware plan takes the tilings at every model shape, with and without split-K', async (t) => {
  const splits: number[] = [];
  for (const l of layers) {
    for (const n of [1, 2, 8]) {
      const p: Conv2dProblem = { N: n, Ci: l.ci, H: l.side, W: l.side, Co: l.co, KH: 3, KW: 3, stride: 1, pad: 1, hasBias: true, activation: 'leaky_relu', slope: 0.01 };
      t.equal(planConv2dForward(p, HARDWARE).kernel, 'conv2d_forward');
      t.equal(planConv2dBackwardInput(p, HARDWARE).kernel, 'conv2d_backward_input');
      const weight = planConv2dBackwardWeight(p, HARDWARE);
      t.equal(weight.launches[0].kernel, 'conv2d_backward_weight');
      if (n <= 2) splits.push(weight.splits);
    }
  }
  t.ok(splits.some((s) => s === 1) && splits.some((s) => s > 1), `weight gradients with one split and with several (${splits.join(', ')})`);
  for (const [M, K, N] of [[1, 8192, 2048], [8, 8192, 2048], [8, 2048, 196], [2048, 8, 8192], [196, 8, 2048]]) {
    t.notMatch(planMatmul({ M, K, N }, HARDWARE).kernel, /subgroup|naive/, `matmul ${M}x${K}x${N} takes a tiling`);
  }
});

t.test('convolution layers under the hardware plan match the Float64 CPU', async (t) => {
  if (!(await withGpu(t))) return;
  for (const l of layers) {
    for (const n of [1, 2]) {
      await compare(t, `layer ${l.layer} x[${n},${l.ci},${l.side},${l.side}] -> ${l.co}`, (backend) => convolve(backend, n, l));
    }
  }
});

t.test('fully connected layers under the hardware plan match the Float64 CPU', async (t) => {
  if (!(await withGpu(t))) return;
  const fc1Inputs = FULL_CHANNELS[FULL_CHANNELS.length - 1] * 4;
  for (const n of [1, 8]) {
    await compare(t, `fc1 [${n},${fc1Inputs}] -> ${FULL_HIDDEN}`, (backend) => fullyConnected(backend, n, fc1Inputs, FULL_HIDDEN));
    await compare(t, `fc2 [${n},${FULL_HIDDEN}] -> ${2 * LANDMARKS}`, (backend) => fullyConnected(backend, n, FULL_HIDDEN, 2 * LANDMARKS));
  }
});
