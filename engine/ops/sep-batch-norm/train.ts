// SepBN in training mode as one op with its own backward rule (DESIGN.md's notation; b is the
// preceding convolution's bias when the op is given it, 0 otherwise):
//
//   p[n, c]  = mean_hw x[n, c] + b[c]                 the per-sample means the attention pools
//   a        = softmax_k( W2 · leaky_relu( W1 · p ) / T )                           a: (N, G, K)
//   gamma_nc = sum_k a[n, g(c), k] · gamma_k[c]       beta_nc likewise
//   y        = gamma_nc · xhat + beta_nc  (then the network's LeakyReLU and 2x2 max pooling),
//              xhat = (x + b - mean_c) / sqrt(var_c + eps) from the batch statistics of x + b
//
// sep-batch-norm.ts writes the same as a chain of ops (bias, pooling sum, attention, two mixes,
// batch norm, running statistics, max pooling), each its own tape node; this op is that chain
// fused, so a layer's training step records 3 dispatches forward and 5 backward instead of about
// 11 and 13. Forward:
//   1. batch_norm_stats with one slice a sample: the slice means are p ([C, N]), b added;
//   2. sepbn_attention: a and pre, one workgroup a sample, the mix gamma_nc and beta_nc, and in
//      further workgroups the slices combined into each channel's mean and variance;
//   3. batch_norm_apply: y with the per-sample affine, with `pool` the 2x2 max pooling (the op's
//      output is then the pooled tensor) and, given the K sets' running statistics, their update
//      (each takes the batch's, as each of the reference's K BatchNorm2d would).
// Backward, g = dL/dy through the pooling and the LeakyReLU, S1[n, c] = sum_hw g,
// S2[n, c] = sum_hw g · xhat:
//   dgamma_nc = S2, dbeta_nc = S1, and through the mix
//     dgamma_k[c] = sum_n a[n, g(c), k] S2[n, c]     dbeta_k[c] = sum_n a[n, g(c), k] S1[n, c]
//     da[n, gr, k] = sum_{c in gr} S2[n, c] gamma_k[c] + S1[n, c] beta_k[c]
//   the attention's backward takes da to dfc1, dfc2 and dp [C, N], and
//     dx = invstd_c (gamma_nc g - A_c - xhat B_c) + dp[c, n] / (H·W),   db[c] = sum_n dp[c, n]
//   with A_c, B_c batch norm's channel terms (batch-norm.ts); b reaches the output only through p,
//   since the normalisation takes it out of xhat again. Passes:
//   1. batch_norm_backward_reduce: S1, S2 (g routed through the pooling's argmax);
//   2. batch_norm_backward_coefficients with the attention: A, B and every dgamma_k, dbeta_k;
//   3. sepbn_attention_backward_hidden with the sets: da (from S1, S2), dlogit, dpre;
//   4. sepbn_attention_backward_params: dp, dfc1, dfc2, db;
//   5. batch_norm_backward_apply with the pooled path: dx (g routed as in pass 1).
// The kernels bind the K gamma and K beta vectors where they lie: sepbn_attention 10 + 2K storage
// buffers, batch_norm_apply 9 + 2K; an adapter that binds fewer takes the chain of ops instead
// (trainOpFits).
import { gpuRuntime } from '../../backend.ts';
import { formatShape, type Shape } from '../../shape.ts';
import type { BackendName, Tensor } from '../../tensor.ts';
import { BN_EPS, batchNormBackwardCoefficientsOp, batchNormBackwardInputOp, batchNormBackwardSumsOp, batchNormSampleStatsLaunches, checkTrainable, dispatchApply } from '../batch-norm.ts';
import { cpuMaxPool2d } from '../pooling.ts';
import { apply, applyAll, defineOp, type CpuView } from '../op.ts';
import { addMixAttentionGrad, cpuMixAffine } from './mix-affine.ts';
import type { SepBnRunning, SepBnTrainResult } from './sep-batch-norm.ts';
import { attentionDims, cpuAttention, cpuAttentionBackwardHidden, sepBnAttentionBackwardHiddenLaunch, sepBnAttentionBackwardParamsOp, sepBnAttentionLaunch, type AttentionAttrs } from './attention.ts';

/** The sets the op takes at most. */
const MAX_SETS = 8;
/** After x, fc1 and fc2: K gammas, K betas, then optionally K running means and K running variances, then optionally the bias. */
const setInputs = Array.from({ length: 4 * MAX_SETS + 1 }, (_, i) => (i < 2 ? `set${i}` : `set${i}?`));

export interface SepBnTrainAttrs extends AttentionAttrs {
  eps: number;
  /** Negative slope of the network's LeakyReLU fused after the layer, if any. */
  leakySlope?: number;
  /** The K sets' running means and variances follow the betas; the op updates them in place with `momentum` (PyTorch's). */
  running: boolean;
  momentum: number;
  /** The preceding convolution's bias is the last input, added to x here (the convolution ran without it). */
  bias: boolean;
  /** The network's 2x2 max pooling (stride 2) fused after the LeakyReLU; x's height and width must be even. */
  pool: boolean;
}

/** Storage buffers the op's widest kernel binds for K sets (sepbn_attention with the mix and the statistics). */
export function trainOpBindings(K: number): number {
  return 10 + 2 * K;
}

/** Whether this op can run K sets on the backend: always on the CPU; on WebGPU when the adapter binds enough buffers. */
export function trainOpFits(backend: BackendName, K: number): boolean {
  if (K > MAX_SETS) return false;
  return backend === 'cpu' || trainOpBindings(K) <= gpuRuntime().adapter.limits.maxStorageBuffersPerShaderStage;
}

/** The op's inputs by role. */
function roles<T>(inputs: T[], { K, running, bias }: SepBnTrainAttrs) {
  const [x, fc1, fc2] = inputs;
  const sets = inputs.slice(3, 3 + 2 * K);
  const state = running ? inputs.slice(3 + 2 * K, 3 + 4 * K) : [];
  const expected = 3 + 2 * K + state.length + (bias ? 1 : 0);
  if (inputs.length !== expected) {
    throw new Error(`sepbn_train: expects x, fc1, fc2, ${K} gammas, ${K} betas${running ? `, ${K} running means, ${K} running variances` : ''}${bias ? ', the bias' : ''} (${expected} inputs), got ${inputs.length}`);
  }
  return { x, fc1, fc2, sets, gammas: sets.slice(0, K), betas: sets.slice(K), state, bias: bias ? inputs[expected - 1] : undefined };
}

interface TrainDims {
  N: number;
  C: number;
  HW: number;
  H: number;
}

function trainDims(shapes: Shape[], attrs: SepBnTrainAttrs): TrainDims {
  const op = 'sepbn_train';
  const { x, fc1, fc2, sets, state, bias } = roles(shapes, attrs);
  if (x.length !== 4) throw new Error(`${op}: x must be NCHW (rank 4), got ${formatShape(x)}`);
  checkTrainable(op, x);
  const [N, C] = x;
  const K = attrs.K;
  const names = ['gamma', 'beta', 'running_mean', 'running_var'];
  [...sets, ...state].forEach((s, i) => {
    if (s.length !== 1 || s[0] !== C) throw new Error(`${op}: ${names[Math.floor(i / K)]}_${i % K} must be [${C}], got ${formatShape(s)}`);
  });
  if (bias && (bias.length !== 1 || bias[0] !== C)) throw new Error(`${op}: the bias must be [${C}], got ${formatShape(bias)}`);
  if (C % attrs.groups !== 0) throw new Error(`${op}: ${C} channels do not split into ${attrs.groups} equal groups`);
  const { H } = attentionDims(op, [N, C], fc1, fc2, attrs);
  if (attrs.pool && (x[2] % 2 !== 0 || x[3] % 2 !== 0)) throw new Error(`${op}: the fused 2x2 max pooling needs an even height and width, x is ${formatShape(x)}`);
  return { N, C, HW: x[2] * x[3], H };
}

/** Float64 forward on x + b: p, statistics (two passes), attention, mix, affine, LeakyReLU, pooling, running statistics. */
function cpuTrain(inputs: CpuView[], outputs: CpuView[], attrs: SepBnTrainAttrs): void {
  const { x, fc1, fc2, gammas, betas, state, bias } = roles(inputs, attrs);
  const { N, C, HW } = trainDims(inputs.map((v) => v.shape), attrs);
  const [, a, mean, variance, pooled, pre, gammaNC, betaNC] = outputs;
  const y = attrs.pool ? outputs[8] : outputs[0];
  const { K, eps, leakySlope, momentum } = attrs;
  const at = (n: number, c: number, i: number) => x.data[(n * C + c) * HW + i] + (bias ? bias.data[c] : 0);
  const pooledNC = new Float64Array(N * C);
  for (let c = 0; c < C; c++) {
    let total = 0;
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let i = 0; i < HW; i++) s += at(n, c, i);
      pooled.data[c * N + n] = s / HW;
      pooledNC[n * C + c] = s / HW;
      total += s;
    }
    const m = total / (N * HW);
    let squares = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) squares += (at(n, c, i) - m) ** 2;
    mean.data[c] = m;
    variance.data[c] = squares / (N * HW);
    // The running statistics take the unbiased variance, as PyTorch's.
    for (let k = 0; k < state.length / 2; k++) {
      const [runningMean, runningVar] = [state[k].data, state[K + k].data];
      runningMean[c] = runningMean[c] * (1 - momentum) + m * momentum;
      runningVar[c] = runningVar[c] * (1 - momentum) + (squares / (N * HW - 1)) * momentum;
    }
  }
  cpuAttention([{ data: pooledNC, shape: [N, C] }, fc1, fc2], [a, pre], { ...attrs, poolScale: 1, pooledChannelsFirst: false });
  cpuMixAffine(a, gammas, gammaNC.data);
  cpuMixAffine(a, betas, betaNC.data);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const [gamma, beta] = [gammaNC.data[n * C + c], betaNC.data[n * C + c]];
      const invstd = 1 / Math.sqrt(variance.data[c] + eps);
      for (let i = 0; i < HW; i++) {
        const r = gamma * (at(n, c, i) - mean.data[c]) * invstd + beta;
        y.data[(n * C + c) * HW + i] = leakySlope !== undefined && r <= 0 ? r * leakySlope : r;
      }
    }
  }
  if (attrs.pool) cpuMaxPool2d(y, outputs[0], outputs[9], { kernel: 2, stride: 2, pad: 0 });
}


/**
 * Inputs: x, fc1, fc2, the K gammas, the K betas, with `running` the K running means and K running
 * variances (updated in place), with `bias` the convolution's bias. Outputs: y (differentiable),
 * the attention a [N, G, K], the batch mean and biased variance [C], then what the backward rule
 * reads: p [C, N], pre [N, H], gamma_nc and beta_nc [N, C]. With `pool` the first output is the
 * pooled y [N, C, H/2, W/2], and y itself and the pooling's argmax (i32, pooled y's shape) follow.
 */
export const sepBnTrainOp = defineOp<SepBnTrainAttrs>({
  name: 'sepbn_train',
  inputs: ['x', 'fc1', 'fc2', ...setInputs],
  outputDtypes: ['f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'i32'],
  outputShapes: (shapes, attrs) => {
    const { N, C, H } = trainDims(shapes, attrs);
    const x = shapes[0];
    const saved = [[N, attrs.groups, attrs.K], [C], [C], [C, N], [N, H], [N, C], [N, C]];
    if (!attrs.pool) return [x, ...saved];
    const pooled = [N, C, x[2] / 2, x[3] / 2];
    return [pooled, ...saved, x, pooled];
  },
  cpu: cpuTrain,
  webgpu: (rt, inputs, outputs, attrs) => {
    const { x, fc1, fc2, sets, state, bias } = roles(inputs, attrs);
    const { N, C, HW, H } = trainDims(inputs.map((v) => v.shape), attrs);
    const [, a, mean, variance, pooled, pre, gammaNC, betaNC] = outputs;
    const y = attrs.pool ? outputs[8] : outputs[0];
    const K = attrs.K;
    // The slice variances live only between the two dispatches; the pool may hand the buffer to
    // a later dispatch of the same submit, which runs after both.
    const stats = batchNormSampleStatsLaunches(x.shape, rt.kernels, bias !== undefined);
    const sliceVariance = rt.pool.acquire(stats.scratchFloats * 4, 'sepbn_train slice variances');
    const [slices] = stats.launches;
    rt.dispatch(slices, [x.buffer, pooled.buffer, sliceVariance, ...(bias ? [bias.buffer] : [])]);
    const attention = { ...attrs, poolScale: 1, pooledChannelsFirst: true };
    rt.dispatch(sepBnAttentionLaunch({ N, C, H }, attention, K), [
      pooled.buffer, fc1.buffer, fc2.buffer, a.buffer, pre.buffer, ...sets.map((s) => s.buffer), gammaNC.buffer, betaNC.buffer, sliceVariance, mean.buffer, variance.buffer,
    ]);
    rt.pool.release(sliceVariance);
    const slope = attrs.leakySlope;
    const runningPairs = state.slice(0, state.length / 2).flatMap((m, k) => [m.buffer, state[K + k].buffer]);
    const buffers = [
      x.buffer, mean.buffer, variance.buffer, gammaNC.buffer, betaNC.buffer, y.buffer,
      ...(attrs.pool ? [outputs[0].buffer, outputs[9].buffer] : []), ...(bias ? [bias.buffer] : []), ...runningPairs,
    ];
    const describe = `batch_norm_apply x[${x.shape}]${bias ? ' + bias' : ''} gamma[${N},${C}]${slope === undefined ? '' : ' + leaky_relu'}${attrs.pool ? ' + max_pool2d 2x2' : ''}${attrs.running ? `, updating ${K} sets' running statistics` : ''}`;
    dispatchApply(rt, { N, C, HW }, C, attrs.eps, slope, true, buffers, describe, {
      poolWidth: attrs.pool ? x.shape[3] : undefined,
      bias: bias !== undefined,
      running: attrs.running ? { sets: K, momentum: attrs.momentum, count: N * HW } : undefined,
    });
  },
  backward: ({ grad, inputs, outputs, attrs, needs }) => {
    const { x, fc1, fc2, sets, bias } = roles(inputs, attrs);
    const [, a, mean, variance, pooled, pre, gammaNC] = outputs;
    // With the pooling fused, grad is the pooled output's: passes 1 and 5 route it by argmax.
    const [y, argmax] = attrs.pool ? [outputs[8], outputs[9]] : [outputs[0], undefined];
    const fused = [...(argmax ? [argmax] : []), ...(bias ? [bias] : [])];
    const norm = { eps: attrs.eps, slope: attrs.leakySlope, pool: attrs.pool, bias: attrs.bias };
    const normWithMeans = { ...norm, meansGradient: true };
    const [sumDy, sumDyXhat] = applyAll(batchNormBackwardSumsOp, [x, grad, y, mean, variance, ...fused], norm);
    const count = x.shape[0] * x.shape[2] * x.shape[3];
    const [A, B, ...setGrads] = applyAll(batchNormBackwardCoefficientsOp, [gammaNC, sumDy, sumDyXhat, a], { count });
    const [dlogit, dpre] = applyAll(sepBnTrainBackwardHiddenOp, [a, sumDy, sumDyXhat, pre, fc2, ...sets], attrs);
    const attention = { ...attrs, poolScale: 1, pooledChannelsFirst: true, offsetGradient: attrs.bias };
    const [dpooled, dfc1, dfc2, dbias] = applyAll(sepBnAttentionBackwardParamsOp, [dlogit, dpre, pre, pooled, fc1], attention);
    const dx = needs[0] ? apply(batchNormBackwardInputOp, [x, grad, mean, variance, gammaNC, A, B, y, dpooled, ...fused], normWithMeans) : null;
    const grads: Array<Tensor | null> = inputs.map(() => null);
    grads[0] = dx;
    grads[1] = needs[1] ? dfc1 : null;
    grads[2] = needs[2] ? dfc2.reshape(fc2.shape) : null;
    setGrads.forEach((g, i) => (grads[3 + i] = needs[3 + i] ? g : null));
    if (bias) grads[inputs.length - 1] = needs[inputs.length - 1] ? dbias : null;
    return grads;
  },
});

/**
 * The attention's dlogit and dpre when da is the mix's gradient, from the per-sample sums S1, S2
 * and the sets (sepbn_attention_backward_hidden.wgsl with SETS = K).
 */
export const sepBnTrainBackwardHiddenOp = defineOp<SepBnTrainAttrs>({
  name: 'sepbn_train_backward_hidden',
  inputs: ['a', 'sumDy', 'sumDyXhat', 'pre', 'fc2', ...setInputs.slice(0, 2 * MAX_SETS)],
  outputShapes: ([a, , , pre]) => [[a[0], a[1] * a[2]], pre],
  cpu: ([a, sumDy, sumDyXhat, pre, fc2, ...sets], [dlogit, dpre], attrs) => {
    // da: the mix's gradient through gamma_nc (whose gradient is S2) and through beta_nc (S1).
    const K = attrs.K;
    const da = new Float64Array(a.data.length);
    addMixAttentionGrad(sumDyXhat.data, a.shape, sets.slice(0, K), da);
    addMixAttentionGrad(sumDy.data, a.shape, sets.slice(K), da);
    cpuAttentionBackwardHidden(a.data, da, pre, fc2.data, dlogit.data, dpre.data, attrs);
  },
  webgpu: (rt, [a, sumDy, sumDyXhat, pre, fc2, ...sets], [dlogit, dpre], attrs) => {
    const launch = sepBnAttentionBackwardHiddenLaunch(pre.shape, attrs, attrs.K, sumDy.shape[1]);
    rt.dispatch(launch, [a.buffer, sumDy.buffer, sumDyXhat.buffer, pre.buffer, fc2.buffer, ...sets.map((s) => s.buffer), dlogit.buffer, dpre.buffer]);
  },
});

/**
 * SepBN's training forward as one op (updating `running` when given; adding `bias`, the
 * convolution's, to x when given); the caller checks trainOpFits first.
 */
export function sepBnTrainFused(
  x: Tensor,
  fc1: Tensor,
  fc2: Tensor,
  gammas: Tensor[],
  betas: Tensor[],
  options: { groups: number; temperature: number; eps?: number; slope?: number; leakySlope?: number; maxPool?: boolean },
  running?: SepBnRunning & { momentum: number },
  bias?: Tensor,
): SepBnTrainResult {
  if (!(options.temperature > 0)) throw new Error(`sepbn_train: temperature must be positive, got ${options.temperature}`);
  const attrs: SepBnTrainAttrs = {
    groups: options.groups,
    K: gammas.length,
    temperature: options.temperature,
    slope: options.slope ?? 0.01,
    poolScale: 1,
    eps: options.eps ?? BN_EPS,
    leakySlope: options.leakySlope,
    running: running !== undefined,
    momentum: running?.momentum ?? 0,
    bias: bias !== undefined,
    pool: options.maxPool ?? false,
  };
  const state = running ? [...running.means, ...running.vars] : [];
  const [y, attention, mean, variance] = applyAll(sepBnTrainOp, [x, fc1, fc2, ...gammas, ...betas, ...state, ...(bias ? [bias] : [])], attrs);
  return { y, attention, mean, variance };
}
