// The fused SepBN (batch norm kernels with a per-sample affine) against the composite spec,
// forward and every gradient, on both backends; and the BatchNorm one-value-per-channel error.
import t, { type Test } from 'tap';
import { backward } from '../../../engine/autodiff.ts';
import { useBackend } from '../../../engine/backend.ts';
import { normal, uniform, tensor } from '../../../engine/create.ts';
import { batchNormTrain } from '../../../engine/ops/batch-norm.ts';
import { sepBatchNormTrain, sepBatchNormEval, sepBatchNormEvalComposite, type SepBnWeights } from '../../../engine/ops/sep-batch-norm/sep-batch-norm.ts';
import { scope } from '../../../engine/scope.ts';
import type { BackendName } from '../../../engine/tensor.ts';
import { withGpu } from '../../gpu.ts';
import { maxRelativeError } from '../../../engine/gradcheck.ts';

const N = 4, C = 20, H = 6, W = 5, K = 3;

function inputs(backend: BackendName, groups: number) {
  const opts = (seed: number) => ({ seed, backend, requiresGrad: true });
  const x = normal([N, C, H, W], { ...opts(1), mean: 0.3, std: 1.7 });
  const w: SepBnWeights = {
    gammas: [0, 1, 2].map((k) => uniform([C], 0.5, 1.5, opts(10 + k))),
    betas: [0, 1, 2].map((k) => normal([C], opts(20 + k))),
    fc1: normal([2, C, 1, 1], opts(30)),
    fc2: normal([K * groups, 2, 1, 1], opts(31)),
  };
  return { x, w, all: [x, ...w.gammas, ...w.betas, w.fc1, w.fc2] };
}

async function run(backend: BackendName, groups: number, fused: boolean) {
  return scope(async () => {
    const { x, w, all } = inputs(backend, groups);
    const { y } = sepBatchNormTrain(x, w, { groups, temperature: 3 }, fused);
    backward(y, { grad: normal(y.shape, { seed: 99, backend }) });
    const out = [await y.toArray(), ...(await Promise.all(all.map((p) => p.grad!.toArray())))];
    return out.map((a) => Float64Array.from(a));
  });
}

const names = ['y', 'x', 'gamma_0', 'gamma_1', 'gamma_2', 'beta_0', 'beta_1', 'beta_2', 'fc1', 'fc2'];

async function compareFusedToComposite(t: Test, backend: BackendName, tolerance: number) {
  for (const groups of [1, 2]) {
    const fused = await run(backend, groups, true);
    const composite = await run(backend, groups, false);
    fused.forEach((f, i) => {
      const err = maxRelativeError(f, composite[i]);
      t.ok(err < tolerance, `groups=${groups} ${i === 0 ? 'output' : 'grad ' + names[i]}: relative difference ${err.toExponential(2)} < ${tolerance}`);
    });
  }
}

t.test('fused SepBN equals the composite on the CPU (Float64)', (t) => compareFusedToComposite(t, 'cpu', 1e-12));

t.test('fused SepBN equals the composite on WebGPU to f32 rounding', async (t) => {
  if (!(await withGpu(t))) return;
  await useBackend('webgpu');
  await compareFusedToComposite(t, 'webgpu', 2e-6);
  await useBackend('cpu');
});

t.test('eval mode: one per-sample affine equals K separate batch norms', async (t) => {
  await scope(async () => {
    const { x, w } = inputs('cpu', 1);
    const running = {
      means: [0, 1, 2].map((k) => normal([C], { seed: 40 + k, backend: 'cpu' })),
      vars: [0, 1, 2].map((k) => uniform([C], 0.2, 3, { seed: 50 + k, backend: 'cpu' })),
    };
    const fused = await sepBatchNormEval(x, w, running, { groups: 1, temperature: 1 }).y.toArray();
    const literal = await sepBatchNormEvalComposite(x, w, running, { groups: 1, temperature: 1 }).y.toArray();
    t.ok(maxRelativeError(Float64Array.from(fused), Float64Array.from(literal)) < 1e-12);
  });
});

t.test('training batch norm with one value per channel says why instead of returning NaN', async (t) => {
  const x = tensor([1, 2, 3], [1, 3, 1, 1], { backend: 'cpu' });
  const g = tensor([1, 1, 1], [1, 3], { backend: 'cpu' });
  t.throws(() => batchNormTrain(x, g, g), /more than one value per channel.*\[1,3,1,1\]/s);
  const ok = tensor([1, 2, 3, 4, 5, 6], [2, 3, 1, 1], { backend: 'cpu' });
  t.doesNotThrow(() => batchNormTrain(ok, g, g), 'two samples of 1x1 are enough');
});
