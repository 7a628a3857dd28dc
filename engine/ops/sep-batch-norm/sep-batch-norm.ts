// Separable Batch Normalization (SepBN), as functions of tensors. DESIGN.md's notation:
//
//   a        = softmax_k( W2 · leaky_relu( W1 · mean_hw(x) ) / T )        a: (N, G, K)
//   gamma_nc = sum_k a[n, g(c), k] · gamma_k[c]     beta_nc = sum_k a[n, g(c), k] · beta_k[c]
//   train:  y = gamma_nc · xhat + beta_nc,  xhat from the batch statistics, shared by the K sets
//   eval:   y = sum_k a[n, g(c), k] · BN_k(x)  with BN_k using its own running statistics,
//           which is again one per-sample affine: y = x · scale_nc + shift_nc with
//           scale_nc = sum_k a · gamma_k / s_k,  shift_nc = sum_k a · (beta_k - gamma_k · mu_k / s_k),
//           s_k = sqrt(var_k + eps).
//
// Each mode exists twice: `composite` spells the formula with primitive ops (what a student steps
// through, and the specification), `fused` runs it in few kernels. Fused training is one op with
// its own backward rule (train.ts); where an adapter cannot bind its kernels' buffers, the chain
// it fuses: the attention MLP as one op (attention.ts), the mix of the K sets (mix-affine.ts) and
// the batch norm kernels with a per-sample affine, whose gradients are the tape's.
// In training the K sets' running statistics all take the batch's (updateSetStatistics).
import { updateRunningStatistics } from '../../assign.ts';
import { formatShape } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { add, leakyRelu, mul, rsqrt, sub } from '../arith.ts';
import { BN_EPS, batchNormTrain, batchNormTrainComposite, channelAffine } from '../batch-norm.ts';
import { permute, stack } from '../layout.ts';
import { matmul } from '../matmul.ts';
import { maxPool2d } from '../pooling.ts';
import { mean, sum } from '../reduce.ts';
import { softmax } from '../softmax.ts';
import type { OpWitness } from '../witness.ts';
import { sepBnAttentionFused } from './attention.ts';
import { mixAffine } from './mix-affine.ts';
import { sepBnTrainFused, trainOpFits } from './train.ts';

export { mixAffine };

export interface SepBnWeights {
  /** K scale vectors gamma_k [C] (the reference's bn.{k}.weight). */
  gammas: Tensor[];
  /** K shift vectors beta_k [C] (bn.{k}.bias). */
  betas: Tensor[];
  /** fc1.weight [H, C, 1, 1]: the 1x1 convolution C -> H on the pooled input. */
  fc1: Tensor;
  /** fc2.weight [K*G, H, 1, 1]: H -> K per group. */
  fc2: Tensor;
}

export interface SepBnOptions {
  groups: number;
  temperature: number;
  eps?: number;
  /** Slope of the attention MLP's LeakyReLU. */
  slope?: number;
  /** Fuse the network's LeakyReLU (this negative slope) after the layer into its last pass. */
  leakySlope?: number;
  /** Training: end with the network's 2x2 max pooling (stride 2), fused into the training op where x's height and width are even. */
  maxPool?: boolean;
}

/**
 * The attention a (N, G, K): which mix of the K parameter sets each sample gets, per group.
 * `fused` runs the MLP and softmax as one op (attention.ts); otherwise matmul, leaky_relu and
 * softmax spell it out.
 */
export function sepBnAttention(x: Tensor, w: SepBnWeights, { groups, temperature, slope = 0.01 }: SepBnOptions, fused = false): Tensor {
  const [N, C] = x.shape;
  const K = w.gammas.length;
  const H = sepBnAttentionShapes(x, w, { groups, temperature });
  // Fused, the mean's 1/(H·W) is applied inside the attention op: a plain sum's gradient is a
  // free reshape, where the mean's would be a scaling pass.
  if (fused) return sepBnAttentionFused(sum(x, [2, 3]), w.fc1, w.fc2, { groups, K, temperature, slope, poolScale: 1 / (x.shape[2] * x.shape[3]) });
  const pooled = mean(x, [2, 3]); //                                              [N, C]
  const hidden = leakyRelu(matmul(pooled, w.fc1.reshape([H, C]), { transB: true }), slope); // [N, H]
  const logits = matmul(hidden, w.fc2.reshape([K * groups, H]), { transB: true }); //        [N, K*G]
  return softmax(logits.reshape([N, groups, K]), 2, temperature); //               [N, G, K]
}

/** Checks fc1 [H, C, 1, 1] and fc2 [K*G, H, 1, 1] against x and the sets, naming the reference's tensors; returns H. */
function sepBnAttentionShapes(x: Tensor, w: SepBnWeights, { groups }: SepBnOptions): number {
  const C = x.shape[1];
  const K = w.gammas.length;
  const H = w.fc1.shape[0];
  if (w.fc1.shape.join() !== [H, C, 1, 1].join()) throw new Error(`SepBN: fc1.weight must be [H,${C},1,1], got ${formatShape(w.fc1.shape)}`);
  if (w.fc2.shape.join() !== [K * groups, H, 1, 1].join()) {
    throw new Error(`SepBN: fc2.weight must be [${K * groups},${H},1,1] (K=${K} x groups=${groups}), got ${formatShape(w.fc2.shape)}`);
  }
  return H;
}

/** The K sets' running statistics, bn.{k}.running_mean and bn.{k}.running_var ([C] each). */
export interface SepBnRunning {
  means: Tensor[];
  vars: Tensor[];
}

/**
 * gamma_nc = sum_k a[n, g(c), k] · params_k[c], for the K vectors params_k [C], spelt with
 * primitive ops: the specification of the fused mixAffine.
 */
export function mixAffineComposite(a: Tensor, params: Tensor[]): Tensor {
  const [N, G, K] = a.shape;
  const C = params[0].shape[0];
  if (C % G !== 0) throw new Error(`SepBN: ${C} channels do not split into ${G} equal groups`);
  const perGroup = C / G;
  const byGroup = permute(stack(params).reshape([K, G, perGroup]), [1, 0, 2]); // [G, K, C/G]
  const weighted = mul(a.reshape([N, G, K, 1]), byGroup.reshape([1, G, K, perGroup]));
  return sum(weighted, 2).reshape([N, C]);
}

export interface SepBnTrainResult {
  y: Tensor;
  attention: Tensor;
  /** Batch mean and biased variance [C]: every set's running statistics are updated from them. */
  mean: Tensor;
  variance: Tensor;
}

/**
 * Training mode. `fused` selects the one training op (or, where it does not fit the adapter, the
 * fused attention, mix and batch norm kernels); otherwise primitive ops throughout. Given
 * `running`, the K sets' running statistics take this batch's (updateSetStatistics). Given
 * `convBias`, the preceding convolution ran without its bias and the layer adds it to x: the one
 * op does so where only the means see it, and its gradient costs no reduction over x.
 */
export function sepBatchNormTrain(x: Tensor, w: SepBnWeights, options: SepBnOptions, fused = true, running?: SepBnRunning & { momentum: number }, convBias?: Tensor): SepBnTrainResult {
  const evenPlanes = x.shape[2] % 2 === 0 && x.shape[3] % 2 === 0;
  if (fused && trainOpFits(x.backend, w.gammas.length) && (evenPlanes || !options.maxPool)) {
    sepBnAttentionShapes(x, w, options);
    return sepBnTrainFused(x, w.fc1, w.fc2, w.gammas, w.betas, options, running, convBias);
  }
  return sepBatchNormTrainChain(x, w, options, fused, running, convBias);
}

/**
 * Training mode as a chain of ops, each its own tape node: fused kernels (attention, mix, batch
 * norm; what an adapter that cannot bind the one op's buffers runs) or primitive ones.
 */
export function sepBatchNormTrainChain(x: Tensor, w: SepBnWeights, options: SepBnOptions, fused: boolean, running?: SepBnRunning & { momentum: number }, convBias?: Tensor): SepBnTrainResult {
  if (convBias) x = add(x, convBias.reshape([1, convBias.size, 1, 1]));
  const result = sepBatchNormTrainLayer(x, w, options, fused);
  if (running) updateSetStatistics(running, result, x.shape[0] * x.shape[2] * x.shape[3], running.momentum);
  return options.maxPool ? { ...result, y: maxPool2d(result.y, 2) } : result;
}

/** The normalisation itself, in the chain's ops. */
function sepBatchNormTrainLayer(x: Tensor, w: SepBnWeights, options: SepBnOptions, fused: boolean): SepBnTrainResult {
  const attention = sepBnAttention(x, w, options, fused);
  const mix = fused ? mixAffine : mixAffineComposite;
  const gammaNC = mix(attention, w.gammas);
  const betaNC = mix(attention, w.betas);
  const bn = (fused ? batchNormTrain : batchNormTrainComposite)(x, gammaNC, betaNC, options.eps ?? BN_EPS, options.leakySlope);
  return { y: bn.y, attention, mean: bn.mean, variance: bn.variance };
}

/**
 * Training's update of the running statistics. The reference's K BatchNorm2d each normalise the
 * same x, so each takes this batch's mean and unbiased variance with the same momentum, exactly
 * as PyTorch would update it alone; one kernel writes all K sets. `count` = N*H*W.
 */
export function updateSetStatistics(running: SepBnRunning, batch: { mean: Tensor; variance: Tensor }, count: number, momentum: number): void {
  const sets = running.means.map((mean, k) => ({ mean, variance: running.vars[k] }));
  updateRunningStatistics(sets, batch.mean, batch.variance, count, momentum);
}

/** Eval mode, fused: one per-sample affine of x built from the K sets' running statistics. */
export function sepBatchNormEval(x: Tensor, w: SepBnWeights, running: SepBnRunning, options: SepBnOptions): { y: Tensor; attention: Tensor } {
  const eps = options.eps ?? BN_EPS;
  const attention = sepBnAttention(x, w, options, true);
  const scales = w.gammas.map((g, k) => mul(g, rsqrt(running.vars[k], eps))); //    gamma_k / s_k
  const shifts = w.betas.map((b, k) => sub(b, mul(scales[k], running.means[k]))); // beta_k - gamma_k mu_k / s_k
  const y = channelAffine(x, mixAffine(attention, scales), mixAffine(attention, shifts), options.leakySlope);
  return { y, attention };
}

/** Eval mode, literally: K separate batch norms on running statistics, mixed by the attention. */
export function sepBatchNormEvalComposite(x: Tensor, w: SepBnWeights, running: SepBnRunning, options: SepBnOptions): { y: Tensor; attention: Tensor } {
  const eps = options.eps ?? BN_EPS;
  const [N, C, Hh, Ww] = x.shape;
  const K = w.gammas.length;
  const G = options.groups;
  const attention = sepBnAttention(x, w, options);
  const perChannel = (v: Tensor) => v.reshape([1, C, 1, 1]);
  const outputs = w.gammas.map((gamma, k) => {
    const xhat = mul(sub(x, perChannel(running.means[k])), perChannel(rsqrt(running.vars[k], eps)));
    return add(mul(xhat, perChannel(gamma)), perChannel(w.betas[k])); //     BN_k(x): [N, C, H, W]
  });
  const byGroup = permute(stack(outputs).reshape([K, N, G, C / G, Hh * Ww]), [1, 2, 0, 3, 4]); // [N, G, K, C/G, HW]
  const y = sum(mul(byGroup, attention.reshape([N, G, K, 1, 1])), 2).reshape([N, C, Hh, Ww]);
  return { y: options.leakySlope === undefined ? y : leakyRelu(y, options.leakySlope), attention };
}

/** Witness inputs: x, K gammas, K betas, fc1, fc2 (and K running means and variances for eval). */
function sepBnCase(label: string, N: number, C: number, HW: [number, number], K: number, groups: number, temperature: number, mode: 'train-fused' | 'train-composite' | 'eval-fused' | 'eval-composite', leakySlope?: number, network: { maxPool?: boolean; convBias?: boolean } = {}) {
  const { maxPool = false, convBias = false } = network;
  const H = Math.max(1, Math.floor(0.1 * C));
  const eval_ = mode.startsWith('eval');
  const scaleDraw = (rng: { uniform(a: number, b: number): number }) => rng.uniform(0.5, 1.5);
  const varianceDraw = (rng: { uniform(a: number, b: number): number }) => rng.uniform(0.5, 2);
  const perSet = (name: string, extra: object = {}) => Array.from({ length: K }, (_, k) => ({ shape: [C], name: `${name}_${k}`, ...extra }));
  const inputs = [
    { shape: [N, C, ...HW], name: 'x' },
    ...perSet('gamma', { draw: scaleDraw }),
    ...perSet('beta'),
    { shape: [H, C, 1, 1], name: 'fc1' },
    { shape: [K * groups, H, 1, 1], name: 'fc2' },
    ...(eval_ ? [...perSet('running_mean', { differentiable: false }), ...perSet('running_var', { differentiable: false, draw: varianceDraw })] : []),
    ...(convBias ? [{ shape: [C], name: 'conv_bias' }] : []),
  ];
  const call = (t: Tensor[]) => {
    const w: SepBnWeights = { gammas: t.slice(1, 1 + K), betas: t.slice(1 + K, 1 + 2 * K), fc1: t[1 + 2 * K], fc2: t[2 + 2 * K] };
    const options = { groups, temperature, leakySlope, maxPool };
    if (!eval_) return sepBatchNormTrain(t[0], w, options, mode === 'train-fused', undefined, convBias ? t[3 + 2 * K] : undefined).y;
    const running = { means: t.slice(3 + 2 * K, 3 + 3 * K), vars: t.slice(3 + 3 * K, 3 + 4 * K) };
    return (mode === 'eval-fused' ? sepBatchNormEval : sepBatchNormEvalComposite)(t[0], w, running, options).y;
  };
  // The attention's gradient is a difference of near-equal terms (softmax backward: d_k minus
  // its a-weighted mean, divided by T), so in f32 it keeps fewer digits than the rest; so does the
  // composite's bias gradient, a sum of dx over the channel in which the normalisation's share
  // cancels (the one op takes it from the pooled means' gradient instead).
  const loose = temperature >= 5 || (convBias && mode === 'train-composite');
  return { label: `${label}${convBias ? ' + conv bias' : ''}${maxPool ? ' + max_pool2d' : ''} ${mode}`, inputs, call, gpuTolerance: loose ? 1e-4 : 2e-5 };
}

export const witnesses: OpWitness[] = [
  {
    // sepBatchNormTrain with fused = true is this one op on the CPU and on adapters that bind its buffers (train.ts).
    op: 'sepbn_train',
    cases: [
      sepBnCase('x[3,10,4,3] K=3 T=2', 3, 10, [4, 3], 3, 1, 2, 'train-fused'),
      sepBnCase('x[2,12,3,3] K=3 groups=2 T=1', 2, 12, [3, 3], 3, 2, 1, 'train-fused'),
      sepBnCase('x[1,7,3,5] N=1 K=2 T=5', 1, 7, [3, 5], 2, 1, 5, 'train-fused'),
      sepBnCase('x[3,10,4,3] K=3 + leaky_relu(0.1)', 3, 10, [4, 3], 3, 1, 2, 'train-fused', 0.1),
      sepBnCase('x[2,70,3,3] K=3 groups=2: more channels than a workgroup', 2, 70, [3, 3], 3, 2, 2, 'train-fused', 0.1),
      sepBnCase('x[2,5,4,6] K=3 + leaky_relu(0.1)', 2, 5, [4, 6], 3, 1, 2, 'train-fused', 0.1, { maxPool: true }),
      sepBnCase('x[2,5,4,6] K=3 + leaky_relu(0.1)', 2, 5, [4, 6], 3, 1, 2, 'train-fused', 0.1, { maxPool: true, convBias: true }),
      sepBnCase('x[3,10,4,3] K=3', 3, 10, [4, 3], 3, 1, 2, 'train-fused', undefined, { convBias: true }),
    ],
  },
  {
    op: 'sepbn',
    composite: true,
    cases: [
      sepBnCase('x[3,10,4,3] K=3 T=2', 3, 10, [4, 3], 3, 1, 2, 'train-composite'),
      sepBnCase('x[2,5,4,6] K=3 + leaky_relu(0.1)', 2, 5, [4, 6], 3, 1, 2, 'train-composite', 0.1, { maxPool: true, convBias: true }),
      sepBnCase('x[2,10,3,3] K=3 running stats differ', 2, 10, [3, 3], 3, 1, 1, 'eval-fused'),
      sepBnCase('x[2,10,3,3] K=3 running stats differ', 2, 10, [3, 3], 3, 1, 1, 'eval-composite'),
      sepBnCase('x[2,12,2,3] K=3 groups=3', 2, 12, [2, 3], 3, 3, 1, 'eval-fused'),
      sepBnCase('x[2,10,3,3] K=3 + leaky_relu(0.1)', 2, 10, [3, 3], 3, 1, 1, 'eval-fused', 0.1),
    ],
  },
];
