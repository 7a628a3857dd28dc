// BatchNorm2d on a tensor small enough to work out on paper: one train-mode forward (batch
// statistics, running statistics with momentum 0.1 and the unbiased variance, the counter), then
// an eval-mode forward on the running statistics. The expected numbers come from the arithmetic in
// the comments, not from another implementation, so a formula wrong in both backends still fails.
import t, { type Test } from 'tap';
import { useBackend } from '../../engine/backend.ts';
import { assignValues } from '../../engine/assign.ts';
import { tensor } from '../../engine/create.ts';
import { scope } from '../../engine/scope.ts';
import type { BackendName } from '../../engine/tensor.ts';
import { BatchNorm2d } from '../../nn/layers/batch-norm.ts';
import { withGpu } from '../gpu.ts';

// x is [N=2, C=2, H=1, W=2], NCHW:
//   channel 0: sample 0 [1, 2], sample 1 [3, 6]  -> mean 12/4 = 3,  deviations -2 -1 0 3, squares sum 14
//   channel 1: sample 0 [-2, 0], sample 1 [2, 4] -> mean 4/4 = 1,   deviations -3 -1 1 3, squares sum 20
const X = [1, 2, -2, 0, 3, 6, 2, 4];
const BATCH_MEAN = [3, 1];
// Training normalises with the biased variance, squares sum / 4 = [3.5, 5].
const BIASED_VAR = [14 / 4, 20 / 4];
// The running statistics start at mean 0, variance 1 and take in the unbiased variance,
// squares sum / 3 = [4.667, 6.667]:
//   running_mean = 0.9 * 0 + 0.1 * [3, 1]          = [0.3, 0.1]
//   running_var  = 0.9 * 1 + 0.1 * [14/3, 20/3]    = [0.9 + 14/30, 0.9 + 20/30] = [1.3667, 1.5667]
const RUNNING_MEAN = [0.3, 0.1];
const RUNNING_VAR = [0.9 + 14 / 30, 0.9 + 20 / 30];
const EPS = 1e-5;
// A non-trivial affine, so scale and shift are each seen to apply to their own channel.
const WEIGHT = [2, 0.5];
const BIAS = [1, -1];

/** y = weight (x - mean) / sqrt(var + eps) + bias, per channel, for the given statistics. */
function normalised(mean: number[], variance: number[]): number[] {
  return X.map((v, i) => {
    const c = Math.floor(i / 2) % 2;
    return (WEIGHT[c] * (v - mean[c])) / Math.sqrt(variance[c] + EPS) + BIAS[c];
  });
}

async function oneTrainThenEval(backend: BackendName) {
  await useBackend(backend);
  const bn = new BatchNorm2d(2);
  assignValues(bn.weight, WEIGHT);
  assignValues(bn.bias, BIAS);
  const x = tensor(X, [2, 2, 1, 2]);
  const train = await scope(() => bn.forward(x).toArray());
  const runningMean = await bn.runningMean.toArray();
  const runningVar = await bn.runningVar.toArray();
  const trackedAfterTrain = bn.numBatchesTracked.value;
  bn.eval();
  const evalOutput = await scope(() => bn.forward(x).toArray());
  const unchanged = { mean: await bn.runningMean.toArray(), tracked: bn.numBatchesTracked.value };
  await useBackend('cpu');
  return { train, runningMean, runningVar, trackedAfterTrain, evalOutput, unchanged };
}

function expectClose(t: Test, actual: ArrayLike<number>, expected: number[], tolerance: number, what: string) {
  const worst = Math.max(...expected.map((e, i) => Math.abs(actual[i] - e) / Math.max(1, Math.abs(e))));
  t.ok(worst <= tolerance, `${what}: [${Array.from(actual, (v) => v.toFixed(6)).join(', ')}], worst relative error ${worst.toExponential(2)} <= ${tolerance}`);
}

async function checkByHand(t: Test, backend: BackendName, tolerance: number) {
  const r = await oneTrainThenEval(backend);
  expectClose(t, r.train, normalised(BATCH_MEAN, BIASED_VAR), tolerance, 'train output uses the batch mean and biased variance');
  expectClose(t, r.runningMean, RUNNING_MEAN, tolerance, 'running_mean = 0.1 * batch mean');
  expectClose(t, r.runningVar, RUNNING_VAR, tolerance, 'running_var = 0.9 + 0.1 * unbiased batch variance');
  t.equal(r.trackedAfterTrain, 1, 'num_batches_tracked counts the one train forward');
  expectClose(t, r.evalOutput, normalised(RUNNING_MEAN, RUNNING_VAR), tolerance, 'eval output uses the running statistics');
  expectClose(t, r.unchanged.mean, RUNNING_MEAN, tolerance, 'eval leaves running_mean alone');
  t.equal(r.unchanged.tracked, 1, 'eval does not count a batch');
}

t.test('BatchNorm2d by hand on the CPU (Float64)', (t) => checkByHand(t, 'cpu', 1e-12));

t.test('BatchNorm2d by hand on WebGPU (f32)', async (t) => {
  if (!(await withGpu(t))) return;
  await checkByHand(t, 'webgpu', 1e-6);
});
