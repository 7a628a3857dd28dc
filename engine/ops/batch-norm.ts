// Batch normalisation over (N, H, W) per channel, fused: a statistics pass and one elementwise
// pass forward; a reduction per (sample, channel) and one elementwise pass backward. The affine
// gamma, beta is either per channel ([1, C]: BatchNorm2d) or per sample and channel ([N, C]: the
// mixed affine of SepBN), so both layers share these kernels.
//
// Notation (DESIGN.md): M = N*H*W, mu_c and var_c the batch mean and biased variance,
// xhat = (x - mu_c) / sqrt(var_c + eps), y = gamma[n,c] * xhat + beta[n,c]. Backward, g = dL/dy:
//   dbeta[n,c]  = sum_hw g                      dgamma[n,c] = sum_hw g * xhat
//   dxhat       = gamma[n,c] * g
//   dx          = (dxhat - mean_M(dxhat) - xhat * mean_M(dxhat * xhat)) / sqrt(var_c + eps)
// where mean_M(dxhat) = (1/M) sum_n gamma[n,c] dbeta[n,c] and mean_M(dxhat * xhat) =
// (1/M) sum_n gamma[n,c] dgamma[n,c]: only the per-(n, c) sums touch the big tensors.
import { formatShape, sameShape, type Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { elementwiseGrid } from '../webgpu/grid.ts';
import type { KernelChoice } from '../webgpu/kernel-plan.ts';
import { defineUniformStruct, type KernelLaunch } from '../webgpu/launch.ts';
import { add, leakyRelu, leakyReluBackwardOp, mul, rsqrt, sub } from './arith.ts';
import { apply, applyAll, defineOp, type CpuView } from './op.ts';
import { cpuMaxPool2d, maxPool2d } from './pooling.ts';
import { mean, splitReduction, sum, workgroupRows, type ReductionLaunches } from './reduce.ts';
import { positive, type OpWitness } from './witness.ts';

export const BN_EPS = 1e-5;
const STATS_WORKGROUP = 256;
const SUMS_WORKGROUP = 64;
/** Invocations per workgroup of batch_norm_stats_combine.wgsl and batch_norm_backward_coefficients.wgsl: one channel each. */
const COMBINE_WORKGROUP = 64;

/** A reduction's workgroup: the power of two that covers `count` values, within [8, largest]. */
function reductionWorkgroup(count: number, largest: number): number {
  return Math.min(largest, Math.max(8, 2 ** Math.ceil(Math.log2(count))));
}

interface Dims {
  N: number;
  C: number;
  HW: number;
}

function dims(op: string, x: Shape): Dims {
  if (x.length !== 4) throw new Error(`${op}: x must be NCHW (rank 4), got ${formatShape(x)}`);
  return { N: x[0], C: x[1], HW: x[2] * x[3] };
}

/** Checks an affine parameter is [1, C] or [N, C]; returns its stride over samples. */
function affineStride(op: string, name: string, { N, C }: Dims, shape: Shape): number {
  if (shape.length !== 2 || shape[1] !== C || (shape[0] !== 1 && shape[0] !== N)) {
    throw new Error(`${op}: ${name} must have shape [1,${C}] or [${N},${C}], got ${formatShape(shape)}`);
  }
  return shape[0] === 1 ? 0 : C;
}

/** Training needs a variance from more than one value per channel, as in PyTorch. */
export function checkTrainable(op: string, x: Shape): void {
  const { N, HW } = dims(op, x);
  if (N * HW < 2) {
    throw new Error(
      `${op}: training mode needs more than one value per channel, got input ${formatShape(x)}: ` +
        `the batch variance of a single value is 0 and its unbiased running estimate divides by zero. ` +
        `Use a batch of 2 or more, or eval mode.`,
    );
  }
}

function cpuStats(x: CpuView, { N, C, HW }: Dims, mean: Float64Array, variance: Float64Array): void {
  const count = N * HW;
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) s += x.data[(n * C + c) * HW + i];
    const m = s / count;
    let d = 0;
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < HW; i++) {
        const v = x.data[(n * C + c) * HW + i] - m;
        d += v * v;
      }
    }
    mean[c] = m;
    variance[c] = d / count;
  }
}

/** y = (x - mean) / sqrt(var + eps) * gamma + beta (or x * gamma + beta without statistics), then the optional LeakyReLU. */
function cpuApply(x: CpuView, gamma: CpuView, beta: CpuView, { N, C, HW }: Dims, y: Float64Array, eps: number, slope: number | undefined, stats?: [Float64Array, Float64Array]) {
  const stride = gamma.shape[0] === 1 ? 0 : C;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const m = stats ? stats[0][c] : 0;
      const invstd = stats ? 1 / Math.sqrt(stats[1][c] + eps) : 1;
      const g = gamma.data[n * stride + c];
      const b = beta.data[n * stride + c];
      for (let i = 0; i < HW; i++) {
        const k = (n * C + c) * HW + i;
        const r = (x.data[k] - m) * invstd * g + b;
        y[k] = slope !== undefined && r <= 0 ? r * slope : r;
      }
    }
  }
}

/** The uniform struct of batch_norm_apply.wgsl. */
const BatchNormApplyParams = defineUniformStruct('BatchNormApplyParams', [
  ['total', 'u32'],
  ['C', 'u32'],
  ['HW', 'u32'],
  ['gammaStrideN', 'u32'],
  ['eps', 'f32'],
  ['statsMode', 'u32'],
  ['rowStride', 'u32'],
  ['leaky', 'u32'],
  ['slope', 'f32'],
  ['width', 'u32'],
  ['keep', 'f32'],
  ['meanWeight', 'f32'],
  ['varianceWeight', 'f32'],
]);

/** What SepBN's training op adds to batch_norm_apply: the fused pooling, the convolution's bias, the K sets' running statistics. */
export interface ApplyFusions {
  /** x's width (even): the 2x2 max pooling's (pooled, argmax) are bound after y. */
  poolWidth?: number;
  /** A bias [C] is bound next and added to x. */
  bias?: boolean;
  /** Running statistics updated from the batch's: `sets` pairs (mean, variance) bound last; `count` values a channel. */
  running?: { sets: number; momentum: number; count: number };
}

/**
 * batch_norm_apply over x with dims d, binding (x, mean, variance, gamma, beta, y) and then what
 * `fused` adds, in ApplyFusions' order.
 */
export function dispatchApply(rt: import('../webgpu/runtime.ts').WebGpuRuntime, d: Dims, gammaStride: number, eps: number, slope: number | undefined, withStats: boolean, buffers: GPUBuffer[], describe: string, fused: ApplyFusions = {}) {
  const { poolWidth, running } = fused;
  const pool = poolWidth === undefined ? 0 : 1;
  const sets = running?.sets ?? 0;
  const total = (d.N * d.C * d.HW) / (pool ? 4 : 1);
  const grid = elementwiseGrid(total);
  rt.dispatch(
    {
      kernel: 'batch_norm_apply',
      unroll: { POOL: pool, BIAS: fused.bias ? 1 : 0, SETS: sets },
      access: [
        ...(['read', 'read', 'read', 'read', 'read', 'read_write'] as const),
        ...(pool ? (['read_write', 'read_write'] as const) : []),
        ...(fused.bias ? (['read'] as const) : []),
        ...Array.from({ length: 2 * sets }, () => 'read_write' as const),
      ],
      uniforms: BatchNormApplyParams.pack({
        total,
        C: d.C,
        HW: d.HW,
        gammaStrideN: gammaStride,
        eps,
        statsMode: withStats ? 0 : 1,
        rowStride: grid.rowStride,
        leaky: slope === undefined ? 0 : 1,
        slope: slope ?? 0,
        width: poolWidth ?? 0,
        // As engine/assign.ts's updateRunningStatistics: the weights in f64 on the host.
        keep: 1 - (running?.momentum ?? 0),
        meanWeight: running?.momentum ?? 0,
        varianceWeight: running ? (running.momentum * running.count) / (running.count - 1) : 0,
      }),
      workgroups: grid.workgroups,
      describe,
    },
    buffers,
  );
}

/** The gradient through the optional LeakyReLU that followed: g where the output is positive, slope * g elsewhere. */
function maskedGrad(g: number, output: number, slope: number | undefined): number {
  return slope !== undefined && !(output > 0) ? g * slope : g;
}

/**
 * The gradient reaching element k of x [N, C, H, W] from `grad`: grad[k] itself, or, with the
 * fused 2x2 max pooling's argmax, the gradient of k's window where k is the element it chose.
 */
function routedGrad(grad: CpuView, argmax: CpuView | undefined, x: Shape, k: number): number {
  if (!argmax) return grad.data[k];
  const [, , H, W] = x;
  const plane = Math.floor(k / (H * W));
  const i = k % (H * W);
  const o = plane * (H / 2) * (W / 2) + Math.floor(i / W / 2) * (W / 2) + Math.floor((i % W) / 2);
  return argmax.ints![o] === i ? grad.data[o] : 0;
}


/** Checks a bias added to x has one value a channel. */
function checkBias(op: string, C: number, bias: Shape | undefined): void {
  if (bias && !(bias.length === 1 && bias[0] === C)) throw new Error(`${op}: bias must be [${C}], got ${formatShape(bias)}`);
}

/** Checks the pooled gradient and argmax of the fused 2x2 max pooling against x. */
function checkPooledGrad(op: string, x: Shape, grad: Shape, argmax: Shape | undefined): void {
  const pooled = [x[0], x[1], x[2] / 2, x[3] / 2];
  if (!argmax) return;
  if (x[2] % 2 !== 0 || x[3] % 2 !== 0) throw new Error(`${op}: the fused 2x2 max pooling needs an even height and width, x is ${formatShape(x)}`);
  if (!sameShape(grad, pooled) || !sameShape(argmax, pooled)) throw new Error(`${op}: with argmax the gradient and argmax must be [${pooled}], got ${formatShape(grad)} and ${formatShape(argmax)}`);
}

interface NormAttrs {
  eps: number;
  /** Set when a LeakyReLU with this negative slope is fused after the normalisation. */
  slope?: number;
  /**
   * What the normalisation's fused forward pass folded in, each adding an input after the fixed
   * ones, in this order: `meansGradient` (input gradient only), SepBN's per-sample means fed its
   * attention and dpooled [C, N] is their gradient; `pool`, the network's 2x2 max pooling followed,
   * the gradient is its output's and an argmax input routes it; `bias`, a bias [C] was added to x
   * (the convolution's, which SepBN's training op adds itself).
   */
  meansGradient?: boolean;
  pool?: boolean;
  bias?: boolean;
}

/** The inputs after the `first` fixed ones, as NormAttrs says which are there. */
function fusedInputs<T>(inputs: T[], first: number, { meansGradient, pool, bias }: NormAttrs): { dpooled?: T; argmax?: T; bias?: T } {
  const rest = inputs.slice(first);
  const dpooled = meansGradient ? rest.shift() : undefined;
  const argmax = pool ? rest.shift() : undefined;
  return { dpooled, argmax, bias: bias ? rest.shift() : undefined };
}

/** The uniform struct of batch_norm_backward_reduce.wgsl. */
const BatchNormBackwardReduceParams = defineUniformStruct('BatchNormBackwardReduceParams', [
  ['NC', 'u32'],
  ['C', 'u32'],
  ['HW', 'u32'],
  ['rowStride', 'u32'],
  ['eps', 'f32'],
  ['statsMode', 'u32'],
  ['leaky', 'u32'],
  ['slope', 'f32'],
  ['width', 'u32'],
]);

/**
 * Per (sample, channel) sums of dy and dy * xhat (xhat = x without statistics). Given argmax, grad
 * is the gradient of the fused 2x2 max pooling's output (SepBN's training op) and dy is routed from it.
 */
export const batchNormBackwardSumsOp = defineOp<NormAttrs>({
  name: 'batch_norm_backward_sums',
  inputs: ['x', 'grad', 'output', 'mean?', 'variance?', 'argmax or bias?', 'bias?'],
  outputShapes: (shapes, attrs) => {
    const [x, grad] = shapes;
    const { N, C } = dims('batch_norm_backward_sums', x);
    const { argmax, bias } = fusedInputs(shapes, 5, attrs);
    checkPooledGrad('batch_norm_backward_sums', x, grad, argmax);
    checkBias('batch_norm_backward_sums', C, bias);
    return [[N, C], [N, C]];
  },
  cpu: (inputs, [sumDy, sumDyXhat], attrs) => {
    const [x, dy, out, m, v] = inputs;
    const { argmax, bias } = fusedInputs(inputs, 5, attrs);
    const { eps, slope } = attrs;
    const { N, C, HW } = dims('batch_norm_backward_sums', x.shape);
    for (let nc = 0; nc < N * C; nc++) {
      const c = nc % C;
      const center = (m ? m.data[c] : 0) - (bias ? bias.data[c] : 0);
      const invstd = v ? 1 / Math.sqrt(v.data[c] + eps) : 1;
      let a = 0;
      let b = 0;
      for (let i = 0; i < HW; i++) {
        const g = maskedGrad(routedGrad(dy, argmax, x.shape, nc * HW + i), out.data[nc * HW + i], slope);
        a += g;
        b += g * (x.data[nc * HW + i] - center) * invstd;
      }
      sumDy.data[nc] = a;
      sumDyXhat.data[nc] = b;
    }
  },
  webgpu: (rt, inputs, [sumDy, sumDyXhat], attrs) => {
    const [x, dy, out, m, v] = inputs;
    const { argmax, bias } = fusedInputs(inputs, 5, attrs);
    rt.dispatch(batchNormBackwardSumsLaunch(x.shape, attrs, m !== undefined), [
      x.buffer, dy.buffer, m?.buffer ?? rt.placeholder, v?.buffer ?? rt.placeholder, out.buffer, sumDy.buffer, sumDyXhat.buffer,
      ...(argmax ? [argmax.buffer] : []), ...(bias ? [bias.buffer] : []),
    ]);
  },
});

/**
 * batch_norm_backward_reduce: one workgroup per (sample, channel), binding (x, dy, mean, variance,
 * output, sumDy, sumDyXhat, then argmax with attrs.pool and bias with attrs.bias). Not split like
 * the statistics: N * C workgroups already fill a large GPU at the model's shapes (512 to 16384
 * at batch 8), and the [N, C] sums left are tiny.
 */
export function batchNormBackwardSumsLaunch(x: Shape, { eps, slope, pool, bias }: NormAttrs, withStats: boolean): KernelLaunch {
  const { N, C, HW } = dims('batch_norm_backward_sums', x);
  const NC = N * C;
  const rows = workgroupRows(NC);
  return {
    kernel: 'batch_norm_backward_reduce',
    // Late layers have 4x4 or 8x8 pixels: a smaller workgroup leaves fewer invocations idle.
    constants: { WORKGROUP_SIZE: reductionWorkgroup(HW, SUMS_WORKGROUP) },
    unroll: { POOL: pool ? 1 : 0, BIAS: bias ? 1 : 0 },
    access: ['read', 'read', 'read', 'read', 'read', 'read_write', 'read_write', ...(pool ? (['read'] as const) : []), ...(bias ? (['read'] as const) : [])],
    uniforms: BatchNormBackwardReduceParams.pack({
      width: x[3],
      NC,
      C,
      HW,
      rowStride: rows.rowStride,
      eps,
      statsMode: withStats ? 0 : 1,
      leaky: slope === undefined ? 0 : 1,
      slope: slope ?? 0,
    }),
    workgroups: rows.workgroups,
    describe: `batch_norm_backward_reduce x[${x}]${slope === undefined ? '' : ' after leaky_relu'}${pool ? ' and max pooling' : ''}${bias ? ', x + bias' : ''}`,
  };
}

/** The uniform struct of batch_norm_backward_apply.wgsl. */
const BatchNormBackwardApplyParams = defineUniformStruct('BatchNormBackwardApplyParams', [
  ['total', 'u32'],
  ['C', 'u32'],
  ['HW', 'u32'],
  ['gammaStrideN', 'u32'],
  ['eps', 'f32'],
  ['rowStride', 'u32'],
  ['leaky', 'u32'],
  ['slope', 'f32'],
  ['pooledGrad', 'u32'],
  ['pooledScale', 'f32'],
  ['N', 'u32'],
  ['width', 'u32'],
]);

/**
 * dx = (gamma * g - A_c - xhat * B_c) / sqrt(var_c + eps), plus dpooled[c, n] / (H*W) when given:
 * SepBN's training op (sep-batch-norm/train.ts), where x also reached the attention through its
 * per-sample means, and dpooled [C, N] is their gradient.
 */
export const batchNormBackwardInputOp = defineOp<NormAttrs>({
  name: 'batch_norm_backward_input',
  inputs: ['x', 'grad', 'mean', 'variance', 'gamma', 'A', 'B', 'output', 'dpooled, argmax or bias?', 'argmax or bias?', 'bias?'],
  outputShapes: (shapes, attrs) => {
    const [x, grad] = shapes;
    const { dpooled, argmax, bias } = fusedInputs(shapes, 8, attrs);
    checkPooledGrad('batch_norm_backward_input', x, grad, argmax);
    checkBias('batch_norm_backward_input', x[1], bias);
    if (dpooled && !(dpooled.length === 2 && dpooled[0] === x[1] && dpooled[1] === x[0])) {
      throw new Error(`batch_norm_backward_input: dpooled must be [C, N] = [${x[1]},${x[0]}], got ${formatShape(dpooled)}`);
    }
    return [x];
  },
  cpu: (inputs, [dx], attrs) => {
    const [x, dy, m, v, gamma, A, B, out] = inputs;
    const { dpooled, argmax, bias } = fusedInputs(inputs, 8, attrs);
    const { eps, slope } = attrs;
    const { N, C, HW } = dims('batch_norm_backward_input', x.shape);
    const stride = gamma.shape[0] === 1 ? 0 : C;
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const invstd = 1 / Math.sqrt(v.data[c] + eps);
        const g = gamma.data[n * stride + c];
        for (let i = 0; i < HW; i++) {
          const k = (n * C + c) * HW + i;
          const xhat = (x.data[k] + (bias ? bias.data[c] : 0) - m.data[c]) * invstd;
          const pooledPath = dpooled ? dpooled.data[c * N + n] / HW : 0;
          dx.data[k] = invstd * (g * maskedGrad(routedGrad(dy, argmax, x.shape, k), out.data[k], slope) - A.data[c] - xhat * B.data[c]) + pooledPath;
        }
      }
    }
  },
  webgpu: (rt, inputs, [dx], attrs) => {
    const [x, dy, m, v, gamma, A, B, out] = inputs;
    const { dpooled, argmax, bias } = fusedInputs(inputs, 8, attrs);
    const { eps, slope } = attrs;
    const d = dims('batch_norm_backward_input', x.shape);
    const total = d.N * d.C * d.HW;
    const grid = elementwiseGrid(total);
    rt.dispatch(
      {
        kernel: 'batch_norm_backward_apply',
        unroll: { POOL: argmax ? 1 : 0, BIAS: bias ? 1 : 0 },
        access: ['read', 'read', 'read', 'read', 'read', 'read', 'read', 'read', 'read', 'read_write', ...(argmax ? (['read'] as const) : []), ...(bias ? (['read'] as const) : [])],
        uniforms: BatchNormBackwardApplyParams.pack({
          width: x.shape[3],
          pooledGrad: dpooled ? 1 : 0,
          pooledScale: 1 / d.HW,
          N: d.N,
          total,
          C: d.C,
          HW: d.HW,
          gammaStrideN: gamma.shape[0] === 1 ? 0 : d.C,
          eps,
          rowStride: grid.rowStride,
          leaky: slope === undefined ? 0 : 1,
          slope: slope ?? 0,
        }),
        workgroups: grid.workgroups,
        describe: `batch_norm_backward_apply x[${x.shape}] gamma[${gamma.shape}]${slope === undefined ? '' : ' after leaky_relu'}${dpooled ? ' + the pooled path' : ''}${argmax ? ', through max pooling' : ''}${bias ? ', x + bias' : ''}`,
      },
      [x.buffer, dy.buffer, m.buffer, v.buffer, gamma.buffer, A.buffer, B.buffer, out.buffer, dpooled?.buffer ?? rt.placeholder, dx.buffer, ...(argmax ? [argmax.buffer] : []), ...(bias ? [bias.buffer] : [])],
    );
  },
});

/** The uniform struct of batch_norm_backward_coefficients.wgsl. */
const BatchNormBackwardCoefficientsParams = defineUniformStruct('BatchNormBackwardCoefficientsParams', [
  ['N', 'u32'],
  ['C', 'u32'],
  ['gammaStrideN', 'u32'],
  ['invCount', 'f32'],
  ['rowStride', 'u32'],
  ['groups', 'u32'],
]);

/**
 * A_c = (1/M) sum_n gamma[n,c] sumDy[n,c] and B_c = (1/M) sum_n gamma[n,c] sumDyXhat[n,c], M = N*H*W:
 * one pass over the [N, C] sums. Given SepBN's attention a [N, G, K] (its training op,
 * sep-batch-norm/train.ts), the same pass also gives the K sets' gradients: outputs A, B, then
 * dgamma_k = sum_n a[n, g(c), k] sumDyXhat[n, c] for each k, then dbeta_k likewise from sumDy.
 */
export const batchNormBackwardCoefficientsOp = defineOp<{ count: number }>({
  name: 'batch_norm_backward_coefficients',
  inputs: ['gamma', 'sumDy', 'sumDyXhat', 'attention?'],
  outputShapes: ([gamma, sumDy, , attention]) => {
    const [N, C] = sumDy;
    affineStride('batch_norm_backward_coefficients', 'gamma', { N, C, HW: 1 }, gamma);
    if (!attention) return [[C], [C]];
    if (attention.length !== 3 || attention[0] !== N || C % attention[1] !== 0) {
      throw new Error(`batch_norm_backward_coefficients: the attention must be [${N}, G, K] with G dividing ${C}, got ${formatShape(attention)}`);
    }
    return [[C], [C], ...Array.from({ length: 2 * attention[2] }, () => [C])];
  },
  cpu: ([gamma, sumDy, sumDyXhat, attention], [A, B, ...setGrads], { count }) => {
    const [N, C] = sumDy.shape;
    const stride = gamma.shape[0] === 1 ? 0 : C;
    for (let c = 0; c < C; c++) {
      let a = 0;
      let b = 0;
      for (let n = 0; n < N; n++) {
        a += gamma.data[n * stride + c] * sumDy.data[n * C + c];
        b += gamma.data[n * stride + c] * sumDyXhat.data[n * C + c];
      }
      A.data[c] = a / count;
      B.data[c] = b / count;
    }
    if (!attention) return;
    const [, G, K] = attention.shape;
    for (let k = 0; k < K; k++) {
      for (let c = 0; c < C; c++) {
        let dgamma = 0;
        let dbeta = 0;
        for (let n = 0; n < N; n++) {
          const weight = attention.data[(n * G + Math.floor(c / (C / G))) * K + k];
          dgamma += weight * sumDyXhat.data[n * C + c];
          dbeta += weight * sumDy.data[n * C + c];
        }
        setGrads[k].data[c] = dgamma;
        setGrads[K + k].data[c] = dbeta;
      }
    }
  },
  webgpu: (rt, [gamma, sumDy, sumDyXhat, attention], [A, B, ...setGrads], { count }) => {
    const [N, C] = sumDy.shape;
    const grid = elementwiseGrid(C, COMBINE_WORKGROUP);
    const sets = attention ? attention.shape[2] : 0;
    rt.dispatch(
      {
        kernel: 'batch_norm_backward_coefficients',
        unroll: { SETS: sets },
        constants: { WORKGROUP_SIZE: COMBINE_WORKGROUP },
        access: ['read', 'read', 'read', 'read_write', 'read_write', ...(attention ? ['read' as const] : []), ...setGrads.map(() => 'read_write' as const)],
        uniforms: BatchNormBackwardCoefficientsParams.pack({
          N,
          C,
          gammaStrideN: gamma.shape[0] === 1 ? 0 : C,
          invCount: 1 / count,
          rowStride: grid.rowStride,
          groups: attention ? attention.shape[1] : 1,
        }),
        workgroups: grid.workgroups,
        describe: `batch_norm_backward_coefficients [${N},${C}] gamma[${gamma.shape}]${sets > 0 ? `, and ${sets} sets' gradients` : ''}`,
      },
      [gamma.buffer, sumDy.buffer, sumDyXhat.buffer, A.buffer, B.buffer, ...(attention ? [attention.buffer] : []), ...setGrads.map((g) => g.buffer)],
    );
  },
});

/** Sums [N, C] per-sample sums down to the parameter's [1, C] when it is shared by all samples. */
function toParamShape(sums: Tensor, param: Tensor): Tensor {
  return param.shape[0] === 1 && sums.shape[0] !== 1 ? sum(sums, 0, true) : sums;
}

/** The uniform struct of batch_norm_stats.wgsl. */
const BatchNormStatsParams = defineUniformStruct('BatchNormStatsParams', [
  ['N', 'u32'],
  ['C', 'u32'],
  ['HW', 'u32'],
  ['splits', 'u32'],
  ['rowStride', 'u32'],
]);

/** The uniform struct of batch_norm_stats_combine.wgsl. */
const BatchNormStatsCombineParams = defineUniformStruct('BatchNormStatsCombineParams', [
  ['C', 'u32'],
  ['count', 'u32'],
  ['splits', 'u32'],
  ['rowStride', 'u32'],
]);

/**
 * The statistics' passes, from x's shape alone (the split rule is reduce.ts's splitReduction over
 * the N*H*W values of each channel). Unsplit: batch_norm_stats binds (x, mean, variance). Split:
 * batch_norm_stats binds (x, sliceMean, sliceVariance), two scratch buffers of [C, splits], and
 * batch_norm_stats_combine binds (sliceMean, sliceVariance, mean, variance).
 */
export function batchNormStatsLaunches(x: Shape): ReductionLaunches {
  const { N, C, HW } = dims('batch_norm_train', x);
  const { splits, longestSlice } = splitReduction(C, N * HW);
  const rows = workgroupRows(C * splits);
  const slices: KernelLaunch = {
    kernel: 'batch_norm_stats',
    constants: { WORKGROUP_SIZE: reductionWorkgroup(longestSlice, STATS_WORKGROUP) },
    unroll: { BIAS: 0 },
    access: ['read', 'read_write', 'read_write'],
    uniforms: BatchNormStatsParams.pack({ N, C, HW, splits, rowStride: rows.rowStride }),
    workgroups: rows.workgroups,
    describe: `batch_norm_stats x[${x}]${splits === 1 ? '' : `, ${splits} slices a channel`}`,
  };
  if (splits === 1) return { launches: [slices], scratchFloats: 0, splits };
  const grid = elementwiseGrid(C, COMBINE_WORKGROUP);
  const combine: KernelLaunch = {
    kernel: 'batch_norm_stats_combine',
    constants: { WORKGROUP_SIZE: COMBINE_WORKGROUP },
    access: ['read', 'read', 'read_write', 'read_write'],
    uniforms: BatchNormStatsCombineParams.pack({ C, count: N * HW, splits, rowStride: grid.rowStride }),
    workgroups: grid.workgroups,
    describe: `batch_norm_stats_combine [${C},${splits}] slices of x[${x}]`,
  };
  return { launches: [slices, combine], scratchFloats: C * splits, splits };
}

/**
 * The workgroup of the statistics cut one slice a sample. On a GPU at least 64 invocations (two
 * warps, one AMD wavefront): with 4x4 pixels a slice most idle, but that pass is tiny, and a
 * narrower workgroup would leave the rest of each warp empty anyway. On a CPU rasteriser (the
 * software plan) one SIMD row, the subgroup: each barrier of the tree sum costs a switch of every
 * invocation there, and slices are short (on lavapipe's 8 lanes the six layers' statistics took
 * 90 ms at full size, batch 8, against 535 ms with workgroups of up to 256).
 */
function sampleStatsWorkgroup(HW: number, { plan, subgroupSize }: KernelChoice): number {
  if (plan === 'software' && subgroupSize !== undefined) return subgroupSize;
  return Math.max(SUMS_WORKGROUP, reductionWorkgroup(HW, STATS_WORKGROUP));
}

/**
 * The statistics cut one slice a sample (splits = N): batch_norm_stats binds (x, sliceMean,
 * sliceVariance), both [C, N], and with `bias` a bias [C] whose value it adds to the means (the
 * convolution's, which SepBN's training op adds itself). That op keeps the slice means: they are
 * the per-sample means its attention pools, so pooling costs no pass of its own, and its attention
 * kernel combines the slices into the channel's statistics.
 */
export function batchNormSampleStatsLaunches(x: Shape, kernels: KernelChoice, bias = false): ReductionLaunches {
  const { N, C, HW } = dims('batch_norm_train', x);
  const rows = workgroupRows(C * N);
  const slices: KernelLaunch = {
    kernel: 'batch_norm_stats',
    constants: { WORKGROUP_SIZE: sampleStatsWorkgroup(HW, kernels) },
    unroll: { BIAS: bias ? 1 : 0 },
    access: ['read', 'read_write', 'read_write', ...(bias ? (['read'] as const) : [])],
    uniforms: BatchNormStatsParams.pack({ N, C, HW, splits: N, rowStride: rows.rowStride }),
    workgroups: rows.workgroups,
    describe: `batch_norm_stats x[${x}]${bias ? ' + bias' : ''}, one slice a sample`,
  };
  return { launches: [slices], scratchFloats: C * N, splits: N };
}

/**
 * Training-mode batch norm (then the optional LeakyReLU): outputs y, then the batch mean and
 * biased variance ([C] each). With attrs.pool the network's 2x2 max pooling runs in the same last
 * pass: the first output is the pooled y, and y itself and the pooling's argmax (i32) follow.
 */
export const batchNormTrainOp = defineOp<NormAttrs>({
  name: 'batch_norm_train',
  inputs: ['x', 'gamma', 'beta'],
  outputDtypes: ['f32', 'f32', 'f32', 'f32', 'i32'],
  outputShapes: ([x, gamma, beta], { pool }) => {
    const d = dims('batch_norm_train', x);
    affineStride('batch_norm_train', 'gamma', d, gamma);
    affineStride('batch_norm_train', 'beta', d, beta);
    checkTrainable('batch_norm_train', x);
    if (!pool) return [x, [d.C], [d.C]];
    if (x[2] % 2 !== 0 || x[3] % 2 !== 0) throw new Error(`batch_norm_train: the fused 2x2 max pooling needs an even height and width, x is ${formatShape(x)}`);
    const pooled = [d.N, d.C, x[2] / 2, x[3] / 2];
    return [pooled, [d.C], [d.C], x, pooled];
  },
  cpu: ([x, gamma, beta], outputs, { eps, slope, pool }) => {
    const [, m, v] = outputs;
    const y = pool ? outputs[3] : outputs[0];
    const d = dims('batch_norm_train', x.shape);
    cpuStats(x, d, m.data, v.data);
    cpuApply(x, gamma, beta, d, y.data, eps, slope, [m.data, v.data]);
    if (pool) cpuMaxPool2d(y, outputs[0], outputs[4], { kernel: 2, stride: 2, pad: 0 });
  },
  webgpu: (rt, [x, gamma, beta], outputs, { eps, slope, pool }) => {
    const [, m, v] = outputs;
    const y = pool ? outputs[3] : outputs[0];
    const d = dims('batch_norm_train', x.shape);
    const stats = batchNormStatsLaunches(x.shape);
    if (stats.launches.length === 1) {
      rt.dispatch(stats.launches[0], [x.buffer, m.buffer, v.buffer]);
    } else {
      // The slices' statistics live only between these two dispatches; the pool may hand the
      // buffers to a later dispatch of the same submit, which runs after both.
      const sliceMean = rt.pool.acquire(stats.scratchFloats * 4, 'batch_norm_stats slice means');
      const sliceVariance = rt.pool.acquire(stats.scratchFloats * 4, 'batch_norm_stats slice variances');
      rt.dispatch(stats.launches[0], [x.buffer, sliceMean, sliceVariance]);
      rt.dispatch(stats.launches[1], [sliceMean, sliceVariance, m.buffer, v.buffer]);
      rt.pool.release(sliceMean);
      rt.pool.release(sliceVariance);
    }
    const stride = affineStride('batch_norm_train', 'gamma', d, gamma.shape);
    const buffers = [x.buffer, m.buffer, v.buffer, gamma.buffer, beta.buffer, y.buffer, ...(pool ? [outputs[0].buffer, outputs[4].buffer] : [])];
    const describe = `batch_norm_apply x[${x.shape}] gamma[${gamma.shape}]${slope === undefined ? '' : ' + leaky_relu'}${pool ? ' + max_pool2d 2x2' : ''}`;
    dispatchApply(rt, d, stride, eps, slope, true, buffers, describe, { poolWidth: pool ? x.shape[3] : undefined });
  },
  // With the pooling fused, grad is the pooled output's: the reduction and dx route it by argmax.
  backward: ({ grad, inputs: [x, gamma, beta], outputs, attrs, needs }) => {
    const [, m, v] = outputs;
    const [y, routing] = attrs.pool ? [outputs[3], [outputs[4]]] : [outputs[0], []];
    const [sumDy, sumDyXhat] = applyAll(batchNormBackwardSumsOp, [x, grad, y, m, v, ...routing], attrs);
    let dx: Tensor | null = null;
    if (needs[0]) {
      const count = x.shape[0] * x.shape[2] * x.shape[3];
      const [A, B] = applyAll(batchNormBackwardCoefficientsOp, [gamma, sumDy, sumDyXhat], { count });
      dx = apply(batchNormBackwardInputOp, [x, grad, m, v, gamma, A, B, y, ...routing], attrs);
    }
    return [dx, needs[1] ? toParamShape(sumDyXhat, gamma) : null, needs[2] ? toParamShape(sumDy, beta) : null];
  },
});

/** y = x * scale[n, c] + shift[n, c] (then the optional LeakyReLU): eval-mode BatchNorm and SepBN, one fused pass. */
export const channelAffineOp = defineOp<{ slope?: number }>({
  name: 'channel_affine',
  inputs: ['x', 'scale', 'shift'],
  outputShapes: ([x, s, b]) => {
    const d = dims('channel_affine', x);
    affineStride('channel_affine', 'scale', d, s);
    affineStride('channel_affine', 'shift', d, b);
    return [x];
  },
  cpu: ([x, s, b], [y], { slope }) => cpuApply(x, s, b, dims('channel_affine', x.shape), y.data, 0, slope),
  webgpu: (rt, [x, s, b], [y], { slope }) => {
    const d = dims('channel_affine', x.shape);
    const stride = affineStride('channel_affine', 'scale', d, s.shape);
    dispatchApply(rt, d, stride, 0, slope, false, [x.buffer, rt.placeholder, rt.placeholder, s.buffer, b.buffer, y.buffer], `channel_affine x[${x.shape}] scale[${s.shape}]`);
  },
  // dx = g' * scale;  dscale[n,c] = sum_hw g' * x;  dshift[n,c] = sum_hw g', g' = g through the LeakyReLU
  backward: ({ grad, inputs: [x, s, b], outputs: [y], attrs: { slope }, needs }) => {
    const [sumDy, sumDyX] = applyAll(batchNormBackwardSumsOp, [x, grad, y], { eps: 0, slope });
    const masked = slope === undefined ? grad : apply(leakyReluBackwardOp, [y, grad], { slope });
    const dx = needs[0] ? mul(masked, s.reshape([s.shape[0], s.shape[1], 1, 1])) : null;
    return [dx, needs[1] ? toParamShape(sumDyX, s) : null, needs[2] ? toParamShape(sumDy, b) : null];
  },
});

/**
 * Fused training-mode batch norm (and LeakyReLU with `leakySlope`, and the network's 2x2 max
 * pooling with `maxPool`, in the same pass where x's height and width are even): y (pooled with
 * maxPool), and the batch statistics for the running averages.
 */
export function batchNormTrain(x: Tensor, gamma: Tensor, beta: Tensor, eps = BN_EPS, leakySlope?: number, maxPool = false): { y: Tensor; mean: Tensor; variance: Tensor } {
  const fusePool = maxPool && x.shape[2] % 2 === 0 && x.shape[3] % 2 === 0;
  const [y, m, v] = applyAll(batchNormTrainOp, [x, gamma, beta], { eps, slope: leakySlope, pool: fusePool });
  return { y: maxPool && !fusePool ? maxPool2d(y, 2) : y, mean: m, variance: v };
}

export function channelAffine(x: Tensor, scaleNC: Tensor, shiftNC: Tensor, leakySlope?: number): Tensor {
  return apply(channelAffineOp, [x, scaleNC, shiftNC], { slope: leakySlope });
}

/**
 * The same training-mode batch norm written with primitive ops: the executable specification
 * the fused kernels are tested against, and the version to step through in a debugger.
 */
export function batchNormTrainComposite(x: Tensor, gamma: Tensor, beta: Tensor, eps = BN_EPS, leakySlope?: number): { y: Tensor; mean: Tensor; variance: Tensor } {
  checkTrainable('batchNormTrainComposite', x.shape);
  const C = x.shape[1];
  const mu = mean(x, [0, 2, 3], true); //                        [1,C,1,1]
  const centered = sub(x, mu);
  const variance = mean(mul(centered, centered), [0, 2, 3], true); // biased, [1,C,1,1]
  const xhat = mul(centered, rsqrt(variance, eps));
  const g = gamma.reshape([gamma.shape[0], C, 1, 1]);
  const b = beta.reshape([beta.shape[0], C, 1, 1]);
  const y = add(mul(xhat, g), b);
  return { y: leakySlope === undefined ? y : leakyRelu(y, leakySlope), mean: mu.reshape([C]), variance: variance.reshape([C]) };
}

const trainY = ([x, g, b]: Tensor[]) => batchNormTrain(x, g, b).y;
const trainLeakyY = ([x, g, b]: Tensor[]) => batchNormTrain(x, g, b, BN_EPS, 0.1).y;
const trainPooledY = ([x, g, b]: Tensor[]) => batchNormTrain(x, g, b, BN_EPS, 0.1, true).y;

export const witnesses: OpWitness[] = [
  {
    op: 'batch_norm_train',
    cases: [
      { label: 'x[3,5,4,3] gamma[1,5] (BatchNorm2d)', inputs: [{ shape: [3, 5, 4, 3] }, { shape: [1, 5] }, { shape: [1, 5] }], call: trainY },
      { label: 'x[3,5,4,3] gamma[3,5] (per-sample, SepBN)', inputs: [{ shape: [3, 5, 4, 3] }, { shape: [3, 5] }, { shape: [3, 5] }], call: trainY },
      { label: 'x[1,3,5,7] N=1', inputs: [{ shape: [1, 3, 5, 7] }, { shape: [1, 3] }, { shape: [1, 3] }], call: trainY },
      {
        label: 'x[2,3,9,9] offset mean 50 (stability)',
        inputs: [{ shape: [2, 3, 9, 9], draw: (rng) => 50 + rng.normal() }, { shape: [1, 3] }, { shape: [1, 3] }],
        call: trainY,
        gpuTolerance: 2e-5,
      },
      {
        label: 'x[2,3,64,64] gamma[1,3]: 2 slices a channel, combined',
        inputs: [{ shape: [2, 3, 64, 64] }, { shape: [1, 3] }, { shape: [1, 3] }],
        call: trainY,
      },
      {
        label: 'x[3,1,71,77] offset mean 50: 4 slices of 4101 and 4100 values (stability)',
        inputs: [{ shape: [3, 1, 71, 77], draw: (rng) => 50 + rng.normal() }, { shape: [3, 1] }, { shape: [3, 1] }],
        call: trainLeakyY,
        gpuTolerance: 2e-5,
      },
      { label: 'x[3,5,4,3] gamma[3,5] + leaky_relu(0.1) fused', inputs: [{ shape: [3, 5, 4, 3] }, { shape: [3, 5] }, { shape: [3, 5] }], call: trainLeakyY },
      { label: 'x[2,4,3,5] gamma[1,4] + leaky_relu(0.1) fused', inputs: [{ shape: [2, 4, 3, 5] }, { shape: [1, 4] }, { shape: [1, 4] }], call: trainLeakyY },
      { label: 'x[2,4,4,6] gamma[1,4] + leaky_relu(0.1) + max_pool2d fused', inputs: [{ shape: [2, 4, 4, 6] }, { shape: [1, 4] }, { shape: [1, 4] }], call: trainPooledY },
      { label: 'x[2,3,3,5] gamma[1,3] + leaky_relu(0.1) + max_pool2d (odd: pooled apart)', inputs: [{ shape: [2, 3, 3, 5] }, { shape: [1, 3] }, { shape: [1, 3] }], call: trainPooledY },
      {
        label: 'composite spec x[2,3,4,5] gamma[2,3]',
        inputs: [{ shape: [2, 3, 4, 5] }, { shape: [2, 3] }, { shape: [2, 3] }],
        call: ([x, g, b]) => batchNormTrainComposite(x, g, b).y,
      },
    ],
  },
  {
    op: 'channel_affine',
    cases: [
      { label: 'x[2,3,4,5] scale[2,3]', inputs: [{ shape: [2, 3, 4, 5] }, { shape: [2, 3] }, { shape: [2, 3], draw: positive }], call: ([x, s, b]) => channelAffine(x, s, b) },
      { label: 'x[2,3,4,5] scale[1,3]', inputs: [{ shape: [2, 3, 4, 5] }, { shape: [1, 3] }, { shape: [1, 3] }], call: ([x, s, b]) => channelAffine(x, s, b) },
      { label: 'x[2,3,4,5] scale[2,3] + leaky_relu(0.1)', inputs: [{ shape: [2, 3, 4, 5] }, { shape: [2, 3] }, { shape: [2, 3] }], call: ([x, s, b]) => channelAffine(x, s, b, 0.1) },
    ],
  },
];
