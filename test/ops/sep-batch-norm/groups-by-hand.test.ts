// What "groups" means in SepBN, on numbers worked out by hand. With G groups and K sets, fc2 has
// K*G outputs read as [G, K] (output g*K + k is group g's logit for set k), and the C channels
// split into G contiguous blocks: channels g*C/G .. (g+1)*C/G - 1 take group g's attention.
// Here C = 4, G = 2, K = 2: channels 0 and 1 are group 0, channels 2 and 3 group 1.
import t, { type Test } from 'tap';
import { assignValues } from '../../../engine/assign.ts';
import { useBackend } from '../../../engine/backend.ts';
import { tensor } from '../../../engine/create.ts';
import { scope } from '../../../engine/scope.ts';
import type { BackendName } from '../../../engine/tensor.ts';
import { InitSeeds } from '../../../nn/init.ts';
import { SepBatchNorm2d } from '../../../nn/layers/sep-batch-norm.ts';
import { withGpu } from '../../gpu.ts';

const EPS = 1e-5;

// x is [N=2, C=4, H=1, W=2]. Channel 0 pools (averages over H, W) to 1 in sample 0 and 2 in
// sample 1; channels 1..3 pool to 0.
//   channel 0:     sample 0 [0, 2], sample 1 [1, 3] -> batch mean 1.5, biased var 1.25, unbiased 5/3
//   channels 1..3: sample 0 [-1, 1], sample 1 [-1, 1] -> batch mean 0, biased var 1, unbiased 4/3
const X = [0, 2, -1, 1, -1, 1, -1, 1, 1, 3, -1, 1, -1, 1, -1, 1];
const BATCH_MEAN = [1.5, 0, 0, 0];
const BIASED_VAR = [1.25, 1, 1, 1];

// The attention. fc1 (hidden 2 x 4) passes channel 0's pooled value to hidden unit 0 and nothing to
// unit 1: v = leaky_relu([p0, 0]) = [p0, 0], so p0 = 1 in sample 0 and 2 in sample 1.
const FC1 = [1, 0, 0, 0, 0, 0, 0, 0];
// fc2 (4 outputs x hidden 2) reads unit 0 only: z = p0 * [ln 3, 0, 0, ln 3], i.e.
//   group 0 logits (set 0, set 1) = p0 * (ln 3, 0),   group 1 logits = p0 * (0, ln 3).
// At temperature 1 the softmax of (p0 ln 3, 0) is (3^p0, 1) / (3^p0 + 1):
//   sample 0 (p0 = 1): group 0 (3/4, 1/4), group 1 (1/4, 3/4)
//   sample 1 (p0 = 2): group 0 (9/10, 1/10), group 1 (1/10, 9/10)
const LN3 = Math.log(3);
const FC2 = [LN3, 0, 0, 0, 0, 0, LN3, 0];
const ATTENTION = [
  [[3 / 4, 1 / 4], [1 / 4, 3 / 4]],
  [[9 / 10, 1 / 10], [1 / 10, 9 / 10]],
];

// Set 0 has gamma (c+1) * 1, beta 0 and set 1 gamma (c+1) * 5, beta (c+1) * 8 on channel c, so a
// channel's mixed affine says which attention it took (gamma = (c+1)(a0 + 5 a1), beta = (c+1) 8 a1)
// and whose parameters it mixed (the factor c+1). Before the factor c+1:
//   sample 0: group 0 gamma 2,   beta 2;    group 1 gamma 4,   beta 6
//   sample 1: group 0 gamma 1.4, beta 0.8;  group 1 gamma 4.6, beta 7.2
const MIXED = [
  [{ gamma: 2, beta: 2 }, { gamma: 4, beta: 6 }],
  [{ gamma: 1.4, beta: 0.8 }, { gamma: 4.6, beta: 7.2 }],
];
/** Contiguous blocks: channels 0, 1 -> group 0; channels 2, 3 -> group 1. */
const GROUP_OF_CHANNEL = [0, 0, 1, 1];

/** y[n,c,:] = (c+1) (gamma[n, g(c)] (x - mean_c) / sqrt(var_c + eps) + beta[n, g(c)]). */
function expected(mean: number[], variance: number[]): number[] {
  return X.map((v, i) => {
    const n = Math.floor(i / 8);
    const c = Math.floor(i / 2) % 4;
    const { gamma, beta } = MIXED[n][GROUP_OF_CHANNEL[c]];
    return (c + 1) * ((gamma * (v - mean[c])) / Math.sqrt(variance[c] + EPS) + beta);
  });
}

// After one train forward every set's running statistics are (momentum 0.1, unbiased variance):
//   running_mean = 0.1 * [1.5, 0, 0, 0]                   = [0.15, 0, 0, 0]
//   running_var  = 0.9 + 0.1 * [5/3, 4/3, 4/3, 4/3]       = [0.9 + 1/6, 0.9 + 2/15, ...]
// so eval mode is the same per-sample affine on these statistics.
const RUNNING_MEAN = [0.15, 0, 0, 0];
const RUNNING_VAR = [0.9 + 1 / 6, 0.9 + 2 / 15, 0.9 + 2 / 15, 0.9 + 2 / 15];

async function trainThenEval(backend: BackendName) {
  await useBackend(backend);
  const layer = new SepBatchNorm2d(4, { K: 2, ratio: 0.5, groups: 2, temperature: 1 }, new InitSeeds(0));
  assignValues(layer.fc1.weight, FC1);
  assignValues(layer.fc2.weight, FC2);
  const [set0, set1] = layer.bn.sets;
  assignValues(set0.weight, [1, 2, 3, 4]);
  assignValues(set0.bias, [0, 0, 0, 0]);
  assignValues(set1.weight, [5, 10, 15, 20]);
  assignValues(set1.bias, [8, 16, 24, 32]);
  const x = tensor(X, [2, 4, 1, 2]);
  const train = await scope(async () => ({ y: await layer.forward(x).toArray(), attention: await layer.lastAttention!.toArray() }));
  layer.eval();
  const evalY = await scope(() => layer.forward(x).toArray());
  await useBackend('cpu');
  return { ...train, evalY };
}

function expectClose(t: Test, actual: ArrayLike<number>, expectedValues: number[], tolerance: number, what: string) {
  const worst = Math.max(...expectedValues.map((e, i) => Math.abs(actual[i] - e) / Math.max(1, Math.abs(e))));
  t.ok(worst <= tolerance, `${what}: worst relative error ${worst.toExponential(2)} <= ${tolerance}`);
}

async function checkByHand(t: Test, backend: BackendName, tolerance: number) {
  const r = await trainThenEval(backend);
  expectClose(t, r.attention, ATTENTION.flat(2), tolerance, 'attention [N, G, K]: fc2 output g*K + k is group g, set k');
  expectClose(t, r.y, expected(BATCH_MEAN, BIASED_VAR), tolerance, 'train: channels 0, 1 take group 0, channels 2, 3 group 1');
  expectClose(t, r.evalY, expected(RUNNING_MEAN, RUNNING_VAR), tolerance, 'eval: the same channel blocks, on the running statistics');
}

t.test('SepBN groups by hand on the CPU (Float64)', (t) => checkByHand(t, 'cpu', 1e-12));

t.test('SepBN groups by hand on WebGPU (f32)', async (t) => {
  if (!(await withGpu(t))) return;
  await checkByHand(t, 'webgpu', 2e-6);
});
