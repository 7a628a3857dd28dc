// SepBN's training path in few commands: the one training op (train.ts), the fused mix of the K
// sets and the fused attention MLP against their composite specifications (batch norm, stack,
// permute, mul, sum; matmul, leaky_relu, softmax), and the K sets' running statistics in one
// dispatch, each set from its own earlier values, on both backends; and how many dispatches and
// copies each, and a whole layer's step, records.
import t, { type Test } from 'tap';
import { assignValues, updateRunningStatistics } from '../../../engine/assign.ts';
import { backward } from '../../../engine/autodiff.ts';
import { gpuRuntime, useBackend } from '../../../engine/backend.ts';
import { tensor } from '../../../engine/create.ts';
import { maxRelativeError } from '../../../engine/gradcheck.ts';
import { mixAffine, mixAffineComposite, sepBatchNormTrain, sepBatchNormTrainChain, sepBnAttention, type SepBnWeights } from '../../../engine/ops/sep-batch-norm/sep-batch-norm.ts';
import { sum } from '../../../engine/ops/reduce.ts';
import { mul } from '../../../engine/ops/arith.ts';
import { Random } from '../../../engine/random.ts';
import { scope } from '../../../engine/scope.ts';
import type { BackendName, Tensor } from '../../../engine/tensor.ts';
import { InitSeeds } from '../../../nn/init.ts';
import { BN_MOMENTUM } from '../../../nn/layers/batch-norm.ts';
import { SepBatchNorm2d } from '../../../nn/layers/sep-batch-norm.ts';
import { withGpu } from '../../gpu.ts';

function values(rng: Random, n: number): number[] {
  return Array.from({ length: n }, () => rng.uniform(-1, 1));
}

/** The mix and its gradients (d/da and d/dp_k of sum(mix * w)) on one backend, fused or composite. */
async function mixWithGradients(backend: BackendName, mix: typeof mixAffine, N: number, G: number, K: number, C: number) {
  const rng = new Random(11);
  const a = tensor(values(rng, N * G * K), [N, G, K], { backend, requiresGrad: true });
  const params = Array.from({ length: K }, () => tensor(values(rng, C), [C], { backend, requiresGrad: true }));
  const weights = tensor(values(rng, N * C), [N, C], { backend });
  const out = mix(a, params);
  backward(sum(mul(out, weights), [0, 1]));
  return [await out.toArray(), await a.grad!.toArray(), ...(await Promise.all(params.map((p) => p.grad!.toArray())))];
}

async function checkMixAgainstComposite(t: Test, backend: BackendName, tolerance: number): Promise<void> {
  for (const [N, G, K, C] of [
    [3, 1, 3, 10],
    [2, 2, 3, 130],
    [1, 3, 5, 9],
  ]) {
    await scope(async () => {
      const fused = await mixWithGradients(backend, mixAffine, N, G, K, C);
      const composite = await mixWithGradients(backend, mixAffineComposite, N, G, K, C);
      const error = Math.max(...fused.map((f, i) => maxRelativeError(f, composite[i])));
      t.ok(error <= tolerance, `N=${N} G=${G} K=${K} C=${C}: output, da and every dp_k within ${error.toExponential(2)} of the composite`);
    });
  }
}

/** The attention and the gradients reaching x, fc1 and fc2 (of sum(a * w)) on one backend, fused or composite. */
async function attentionWithGradients(backend: BackendName, fused: boolean, N: number, C: number, groups: number, K: number, temperature: number) {
  const rng = new Random(17);
  const H = Math.max(1, Math.floor(C / 10));
  const x = tensor(values(rng, N * C * 9), [N, C, 3, 3], { backend, requiresGrad: true });
  const w: SepBnWeights = {
    gammas: [],
    betas: [],
    fc1: tensor(values(rng, H * C), [H, C, 1, 1], { backend, requiresGrad: true }),
    fc2: tensor(values(rng, K * groups * H).map((v) => 3 * v), [K * groups, H, 1, 1], { backend, requiresGrad: true }),
  };
  w.gammas.length = K; // only the count of sets is read
  const a = sepBnAttention(x, w, { groups, temperature }, fused);
  backward(sum(mul(a, tensor(values(rng, N * groups * K), [N, groups, K], { backend })), [0, 1, 2]));
  return [await a.toArray(), await x.grad!.toArray(), await w.fc1.grad!.toArray(), await w.fc2.grad!.toArray()];
}

async function checkAttentionAgainstComposite(t: Test, backend: BackendName, tolerance: number): Promise<void> {
  for (const [N, C, groups, K, T] of [
    [3, 20, 1, 3, 2],
    [2, 40, 2, 3, 30],
    [4, 130, 65, 2, 1],
  ]) {
    await scope(async () => {
      const fused = await attentionWithGradients(backend, true, N, C, groups, K, T);
      const composite = await attentionWithGradients(backend, false, N, C, groups, K, T);
      const errors = fused.map((f, i) => maxRelativeError(f, composite[i]));
      t.ok(Math.max(...errors) <= tolerance, `N=${N} C=${C} groups=${groups} K=${K} T=${T}: a, dx, dfc1, dfc2 within ${errors.map((e) => e.toExponential(1)).join(', ')} of the composite`);
    });
  }
}

/**
 * SepBN training, the one op (fused) or batch norm spelt with primitive ops (composite): y, the
 * attention, the batch statistics, every gradient of sum(y * w) and the K sets' running
 * statistics after the step.
 */
/** Which SepBN training: the one op, the chain of fused kernels (adapters that cannot bind the op's buffers), or the composite of primitive ops. */
type TrainPath = 'op' | 'chain' | 'composite';

async function trainWithGradients(backend: BackendName, path: TrainPath, [N, C, H, W]: number[], groups: number, K: number, leakySlope: number, maxPool: boolean, withBias: boolean) {
  const rng = new Random(23);
  const hidden = Math.max(1, Math.floor(C / 10));
  const x = tensor(values(rng, N * C * H * W).map((v, i) => v + (i % 7)), [N, C, H, W], { backend, requiresGrad: true });
  const vector = (offset: number) => tensor(values(rng, C).map((v) => v + offset), [C], { backend, requiresGrad: true });
  const w: SepBnWeights = {
    gammas: Array.from({ length: K }, () => vector(1)),
    betas: Array.from({ length: K }, () => vector(0)),
    fc1: tensor(values(rng, hidden * C), [hidden, C, 1, 1], { backend, requiresGrad: true }),
    // Moderate logits: a saturated softmax leaves the attention's f32 gradients only rounding.
    fc2: tensor(values(rng, K * groups * hidden), [K * groups, hidden, 1, 1], { backend, requiresGrad: true }),
  };
  const running = { means: w.gammas.map(() => tensor(values(rng, C), [C], { backend })), vars: w.gammas.map(() => tensor(values(rng, C).map((v) => 2 + v), [C], { backend })), momentum: 0.1 };
  const convBias = withBias ? vector(0) : undefined;
  const options = { groups, temperature: 2, leakySlope, maxPool };
  const result = path === 'chain' ? sepBatchNormTrainChain(x, w, options, true, running, convBias) : sepBatchNormTrain(x, w, options, path === 'op', running, convBias);
  backward(sum(mul(result.y, tensor(values(rng, result.y.size), result.y.shape, { backend })), [0, 1, 2, 3]));
  const read = (ts: Tensor[]) => Promise.all(ts.map((t) => t.toArray()));
  const biasGrad = convBias ? [convBias.grad!] : [];
  return read([result.y, result.attention, result.mean, result.variance, x.grad!, w.fc1.grad!, w.fc2.grad!, ...[...w.gammas, ...w.betas].map((p) => p.grad!), ...running.means, ...running.vars, ...biasGrad]);
}

const trainQuantities = ['y', 'attention', 'mean', 'variance', 'dx', 'dfc1', 'dfc2', 'dgamma_k', 'dbeta_k', 'running means', 'running vars', 'dbias'];

/** The one op (or the chain of fused kernels) on `backend` against the composite in Float64. */
async function checkTrainAgainstComposite(t: Test, backend: BackendName, tolerance: number, path: TrainPath = 'op'): Promise<void> {
  for (const [shape, groups, K, maxPool, withBias] of [
    [[3, 10, 4, 3], 1, 3, false, false],
    [[2, 70, 5, 4], 2, 3, false, true],
    [[1, 7, 3, 5], 1, 2, false, false],
    [[3, 10, 4, 6], 1, 3, true, true],
    [[2, 70, 6, 2], 2, 3, true, false],
  ] as const) {
    await scope(async () => {
      const fused = await trainWithGradients(backend, path, [...shape], groups, K, 0.1, maxPool, withBias);
      // The reference is the Float64 composite: in f32 its bias gradient, a sum of dx over the
      // channel whose normalisation share cancels, keeps only a few digits.
      const composite = await trainWithGradients('cpu', 'composite', [...shape], groups, K, 0.1, maxPool, withBias);
      const errors = fused.map((f, i) => maxRelativeError(f, composite[i]));
      // Per quantity: the first seven are single tensors, then K gammas, K betas, K running means, K running variances, and the bias's.
      const named = trainQuantities.slice(0, withBias ? 12 : 11).map((name, q) => {
        const range = q < 7 ? [q, q + 1] : q < 11 ? [7 + (q - 7) * K, 7 + (q - 6) * K] : [7 + 4 * K, 8 + 4 * K];
        return `${name} ${Math.max(...errors.slice(range[0], range[1])).toExponential(1)}`;
      });
      t.ok(Math.max(...errors) <= tolerance, `x[${shape}] groups=${groups} K=${K}${maxPool ? ' + max pooling' : ''}${withBias ? ' + conv bias' : ''}: ${named.join(', ')}`);
    });
  }
}

/**
 * A SepBN layer whose K sets hold different running statistics (as loaded from a checkpoint),
 * one training forward: every set takes the batch's statistics from its own earlier values.
 */
async function runningStatisticsAfterForward(backend: BackendName) {
  await useBackend(backend);
  const rng = new Random(3);
  const [N, C, H, W] = [2, 6, 3, 2];
  const layer = new SepBatchNorm2d(C, { K: 3, ratio: 0.5, groups: 1, temperature: 2 }, new InitSeeds(1));
  layer.bn.sets.forEach((set) => {
    assignValues(set.runningMean, values(rng, C));
    assignValues(set.runningVar, values(rng, C).map((v) => 1.5 + v));
  });
  const before = await Promise.all(layer.bn.sets.map(async (s) => [await s.runningMean.toArray(), await s.runningVar.toArray()]));
  const x = values(rng, N * C * H * W).map((v, i) => v + (i % 5));
  scope(() => layer.forward(tensor(x, [N, C, H, W])));
  const after = await Promise.all(layer.bn.sets.map(async (s) => [await s.runningMean.toArray(), await s.runningVar.toArray()]));
  await useBackend('cpu');
  return { x, shape: [N, C, H, W], before, after, tracked: layer.bn.sets.map((s) => s.numBatchesTracked.value) };
}

/** PyTorch's rule, worked in Float64 from the input. */
function expectedRunning({ x, shape: [N, C, H, W], before }: Awaited<ReturnType<typeof runningStatisticsAfterForward>>): number[][][] {
  const count = N * H * W;
  const mean = Array.from({ length: C }, (_, c) => {
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < H * W; i++) s += x[(n * C + c) * H * W + i];
    return s / count;
  });
  const unbiased = Array.from({ length: C }, (_, c) => {
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < H * W; i++) s += (x[(n * C + c) * H * W + i] - mean[c]) ** 2;
    return s / (count - 1);
  });
  const m = BN_MOMENTUM;
  return before.map(([runningMean, runningVar]) => [
    Array.from(runningMean, (v, c) => (1 - m) * v + m * mean[c]),
    Array.from(runningVar, (v, c) => (1 - m) * v + m * unbiased[c]),
  ]);
}

async function checkRunningStatistics(t: Test, backend: BackendName, tolerance: number): Promise<void> {
  const result = await runningStatisticsAfterForward(backend);
  const expected = expectedRunning(result);
  result.after.forEach(([mean, variance], k) => {
    const error = Math.max(maxRelativeError(mean, expected[k][0]), maxRelativeError(variance, expected[k][1]));
    t.ok(error <= tolerance, `set ${k}: running_mean and running_var within ${error.toExponential(2)} of PyTorch's rule from its own values`);
  });
  t.same(result.tracked, [1, 1, 1], 'num_batches_tracked counts the batch in every set');
}

t.test('CPU: the training op equals the composite, gradients and running statistics too', async (t) => checkTrainAgainstComposite(t, 'cpu', 1e-10));
t.test('CPU: the fused mix equals its composite specification', async (t) => checkMixAgainstComposite(t, 'cpu', 1e-12));
t.test('CPU: the fused attention equals matmul, leaky_relu and softmax', async (t) => checkAttentionAgainstComposite(t, 'cpu', 1e-12));
t.test('CPU: every set of running statistics takes the batch from its own values', async (t) => checkRunningStatistics(t, 'cpu', 1e-12));

t.test('WebGPU', async (t) => {
  if (!(await withGpu(t))) return;

  await t.test('the training op equals the composite, gradients and running statistics too', async (t) => {
    await useBackend('webgpu');
    await checkTrainAgainstComposite(t, 'webgpu', 1e-4);
    await useBackend('cpu');
  });

  await t.test('the chain of fused kernels, for adapters that bind fewer buffers, equals the composite too', async (t) => {
    await useBackend('webgpu');
    await checkTrainAgainstComposite(t, 'webgpu', 1e-4, 'chain');
    await useBackend('cpu');
  });

  await t.test('commands: the training op in three dispatches forward and five backward, no copies', async (t) => {
    await useBackend('webgpu');
    const rt = gpuRuntime();
    scope(() => {
      const layer = new SepBatchNorm2d(20, { K: 3, ratio: 0.1, groups: 1, temperature: 2 }, new InitSeeds(4));
      const rng = new Random(6);
      const x = tensor(values(rng, 2 * 20 * 9), [2, 20, 3, 3], { requiresGrad: true });
      const [dispatches, copies] = [rt.dispatchCount, rt.copyCount];
      const y = layer.forward(x, 0.01);
      t.same([rt.dispatchCount - dispatches, rt.copyCount - copies], [3, 0], 'forward: statistics by sample; attention, mix and combined statistics; the affine with the running statistics');
      const grad = tensor(values(rng, 2 * 20 * 9), [2, 20, 3, 3]);
      const [before, copiesBefore] = [rt.dispatchCount, rt.copyCount];
      y.node!.backward(grad);
      t.same([rt.dispatchCount - before, rt.copyCount - copiesBefore], [5, 0], 'backward: the sums, the channel terms with the sets gradients, da to dpre, dp with dfc1 and dfc2, dx');
      const pooledGrad = tensor(values(rng, 2 * 20 * 4), [2, 20, 2, 2]);
      const [pooledDispatches, pooledCopies] = [rt.dispatchCount, rt.copyCount];
      const bias = tensor(values(rng, 20), [20], { requiresGrad: true });
      const z = layer.forward(tensor(values(rng, 2 * 20 * 16), [2, 20, 4, 4], { requiresGrad: true }), 0.01, true, bias);
      z.node!.backward(pooledGrad);
      t.same([rt.dispatchCount - pooledDispatches, rt.copyCount - pooledCopies], [8, 2], 'with the max pooling and the convolution bias fused: the same 3 + 5 dispatches (and the uploads of x and the bias)');
    });
    await useBackend('cpu');
  });

  await t.test('the fused mix equals its composite specification', async (t) => {
    await useBackend('webgpu');
    await checkMixAgainstComposite(t, 'webgpu', 1e-6);
    await useBackend('cpu');
  });

  await t.test('every set of running statistics takes the batch from its own values', async (t) => checkRunningStatistics(t, 'webgpu', 1e-6));

  await t.test('the fused attention equals matmul, leaky_relu and softmax', async (t) => {
    await useBackend('webgpu');
    await checkAttentionAgainstComposite(t, 'webgpu', 1e-5);
    await useBackend('cpu');
  });

  await t.test('commands: the attention in one dispatch, its gradients in two, no copies', async (t) => {
    await useBackend('webgpu');
    const rt = gpuRuntime();
    scope(() => {
      const [N, C, groups, K] = [2, 20, 1, 3];
      const rng = new Random(2);
      const x = tensor(values(rng, N * C * 4), [N, C, 2, 2]);
      const w: SepBnWeights = { gammas: [], betas: [], fc1: tensor(values(rng, 2 * C), [2, C, 1, 1], { requiresGrad: true }), fc2: tensor(values(rng, 6), [3, 2, 1, 1], { requiresGrad: true }) };
      w.gammas.length = K;
      const [dispatches, copies] = [rt.dispatchCount, rt.copyCount];
      const a = sepBnAttention(x, w, { groups, temperature: 2 }, true);
      t.same([rt.dispatchCount - dispatches, rt.copyCount - copies], [2, 0], 'forward: the pooling sum and the attention');
      const grad = tensor(values(rng, N * groups * K), [N, groups, K]);
      const [before, copiesBefore] = [rt.dispatchCount, rt.copyCount];
      a.node!.backward(grad);
      t.same([rt.dispatchCount - before, rt.copyCount - copiesBefore], [2, 0], 'backward: dlogit and dpre, then dpooled, dfc1 and dfc2');
    });
    await useBackend('cpu');
  });

  await t.test('commands: one dispatch for the mix and one for its gradients, no copies', async (t) => {
    await useBackend('webgpu');
    const rt = gpuRuntime();
    scope(() => {
      const a = tensor([0.2, 0.3, 0.5, 0.1, 0.1, 0.8], [2, 1, 3], { requiresGrad: true });
      const params = [0, 1, 2].map((k) => tensor([k, k + 1, k + 2, k + 3], [4], { requiresGrad: true }));
      const count = (record: () => void) => {
        const [dispatches, copies] = [rt.dispatchCount, rt.copyCount];
        record();
        return [rt.dispatchCount - dispatches, rt.copyCount - copies];
      };
      let out: Tensor | undefined;
      t.same(count(() => (out = mixAffine(a, params))), [1, 0], 'forward');
      const grad = tensor([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]);
      t.same(count(() => out!.node!.backward(grad)), [1, 0], 'backward: da and the three dp_k');
    });
    await useBackend('cpu');
  });

  await t.test('running statistics: one dispatch per as many sets as the adapter binds', async (t) => {
    await useBackend('webgpu');
    const rt = gpuRuntime();
    const perDispatch = Math.floor((rt.adapter.limits.maxStorageBuffersPerShaderStage - 2) / 2);
    const setCount = perDispatch + 2; // more than one dispatch holds
    const rng = new Random(5);
    const C = 300;
    const initial = Array.from({ length: setCount }, () => [values(rng, C), values(rng, C).map((v) => 2 + v)]);
    const [batchMean, batchVariance] = [values(rng, C), values(rng, C).map((v) => 1 + v)];
    const results: number[][][][] = [];
    for (const backend of ['cpu', 'webgpu'] as const) {
      await scope(async () => {
        const sets = initial.map(([m, v]) => ({ mean: tensor(m, [C], { backend }), variance: tensor(v, [C], { backend }) }));
        const dispatches = backend === 'webgpu' ? rt.dispatchCount : 0;
        updateRunningStatistics(sets, tensor(batchMean, [C], { backend }), tensor(batchVariance, [C], { backend }), 12, 0.1);
        if (backend === 'webgpu') t.equal(rt.dispatchCount - dispatches, 2, `${setCount} sets, ${perDispatch} a dispatch: two dispatches`);
        results.push(await Promise.all(sets.map(async (s) => [Array.from(await s.mean.toArray()), Array.from(await s.variance.toArray())])));
      });
    }
    const error = Math.max(...results[0].flatMap((set, k) => set.map((v, i) => maxRelativeError(results[1][k][i], v))));
    t.ok(error <= 1e-6, `every set within ${error.toExponential(2)} of the CPU`);
    await useBackend('cpu');
  });
});
