// SepBN's attention MLP as one op (DESIGN.md's notation, j = g*K + k):
//
//   pre[n, h]   = sum_c fc1[h, c] · s · pooled[n, c]          pooled = sum_hw(x): [N, C], s = 1/(H·W)
//   logit[n, j] = sum_h fc2[j, h] · leaky_relu(pre[n, h])
//   a[n, g, k]  = softmax_k(logit[n, g*K + k] / T)             a: (N, G, K)
//
// sep-batch-norm.ts spells the same with matmul, leaky_relu and softmax (sepBnAttention with
// fused = false), the specification this op is tested against. Fused, a training step records one
// dispatch forward and two backward per layer instead of four and six. The mean's 1/(H·W) is the
// op's `poolScale`, so the pooling is a plain sum whose gradient is a free reshape, not a pass.
//
// Backward, da = dL/da:
//   dlogit[n, j] = a (da - sum_k' a da) / T                    per (n, g), over its K entries
//   dpre[n, h]   = leaky_relu'(pre[n, h]) · sum_j dlogit[n, j] · fc2[j, h]
//   dpooled      = s · dpre · fc1      dfc1 = s · dpreᵀ · pooled      dfc2 = dlogitᵀ · leaky_relu(pre)
import { formatShape, sizeOf, type Shape } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { elementwiseGrid, MAX_WORKGROUPS_PER_DIMENSION } from '../../webgpu/grid.ts';
import { ceilDiv, defineUniformStruct, type KernelLaunch } from '../../webgpu/launch.ts';
import { applyAll, defineOp, type CpuView } from '../op.ts';
import type { OpWitness } from '../witness.ts';

export interface AttentionAttrs {
  groups: number;
  /** Parameter sets K: the softmax runs over K logits per group. */
  K: number;
  temperature: number;
  /** Negative slope of the MLP's LeakyReLU. */
  slope: number;
  /** The factor s that turns the pooled input into the MLP's input: 1/(H·W) for a sum over the pixels, 1 for a mean. */
  poolScale: number;
  /** pooled (and dpooled) are [C, N], the per-sample means SepBN's training op keeps (train.ts); [N, C] otherwise. */
  pooledChannelsFirst?: boolean;
  /**
   * The backward pass also gives the gradient of an offset [C] added to every pooled value: in
   * SepBN's training op, the convolution's bias, which reaches the output only through the means.
   */
  offsetGradient?: boolean;
}

/** Invocations per workgroup of the per-sample kernels (sepbn_attention, sepbn_attention_backward_hidden). */
const SAMPLE_WORKGROUP = 64;

interface AttentionDims {
  N: number;
  C: number;
  H: number;
  J: number;
}

/** Checks pooled [N, C], fc1 [H, C(, 1, 1)] and fc2 [K*G, H(, 1, 1)] agree. */
export function attentionDims(op: string, pooled: Shape, fc1: Shape, fc2: Shape, { groups, K }: AttentionAttrs): AttentionDims {
  if (pooled.length !== 2) throw new Error(`${op}: pooled must be [N, C], got ${formatShape(pooled)}`);
  const [N, C] = pooled;
  const H = fc1[0];
  const J = groups * K;
  if (sizeOf(fc1) !== H * C) throw new Error(`${op}: fc1.weight must hold [H, ${C}] (H = ${H}), got ${formatShape(fc1)}`);
  if (fc2[0] !== J || sizeOf(fc2) !== J * H) throw new Error(`${op}: fc2.weight must hold [${J}, ${H}] (K=${K} x groups=${groups}), got ${formatShape(fc2)}`);
  if (N > MAX_WORKGROUPS_PER_DIMENSION) throw new Error(`${op}: one workgroup per sample, at most ${MAX_WORKGROUPS_PER_DIMENSION} samples, got ${N}`);
  return { N, C, H, J };
}

const leaky = (v: number, slope: number) => (v > 0 ? v : v * slope);

/** The uniform struct of sepbn_attention.wgsl. */
const SepBnAttentionParams = defineUniformStruct('SepBnAttentionParams', [
  ['C', 'u32'],
  ['H', 'u32'],
  ['groups', 'u32'],
  ['K', 'u32'],
  ['invTemperature', 'f32'],
  ['slope', 'f32'],
  ['poolScale', 'f32'],
  ['pooledStrideN', 'u32'],
  ['pooledStrideC', 'u32'],
  ['N', 'u32'],
]);

/** The uniform struct of sepbn_attention_backward_hidden.wgsl. */
const SepBnAttentionBackwardHiddenParams = defineUniformStruct('SepBnAttentionBackwardHiddenParams', [
  ['H', 'u32'],
  ['groups', 'u32'],
  ['K', 'u32'],
  ['invTemperature', 'f32'],
  ['slope', 'f32'],
  ['C', 'u32'],
]);

/** The uniform struct of sepbn_attention_backward_params.wgsl. */
const SepBnAttentionBackwardParams = defineUniformStruct('SepBnAttentionBackwardParams', [
  ['N', 'u32'],
  ['C', 'u32'],
  ['H', 'u32'],
  ['J', 'u32'],
  ['slope', 'f32'],
  ['poolScale', 'f32'],
  ['rowStride', 'u32'],
  ['pooledStrideN', 'u32'],
  ['pooledStrideC', 'u32'],
]);

/** Where pooled[n, c] lies: (stride over samples, stride over channels). */
function pooledStrides(N: number, C: number, { pooledChannelsFirst }: AttentionAttrs): { pooledStrideN: number; pooledStrideC: number } {
  return pooledChannelsFirst ? { pooledStrideN: 1, pooledStrideC: N } : { pooledStrideN: C, pooledStrideC: 1 };
}

/**
 * sepbn_attention_backward_hidden's launch for pre [N, H]. With `sets` = 0 it binds (a, da, pre,
 * fc2, dlogit, dpre); with `sets` = K > 0 (SepBN's training op, train.ts) it computes da itself
 * and binds (a, sumDy, sumDyXhat, pre, fc2, gamma_0.., beta_0.., dlogit, dpre), C channels.
 */
export function sepBnAttentionBackwardHiddenLaunch([N, H]: Shape, { groups, K, temperature, slope }: AttentionAttrs, sets: number, C = 0): KernelLaunch {
  const reads = 4 + (sets > 0 ? 1 + 2 * sets : 0);
  return {
    kernel: 'sepbn_attention_backward_hidden',
    unroll: { SETS: sets },
    constants: { WORKGROUP_SIZE: SAMPLE_WORKGROUP },
    access: [...Array.from({ length: reads }, () => 'read' as const), 'read_write', 'read_write'],
    uniforms: SepBnAttentionBackwardHiddenParams.pack({ H, groups, K, invTemperature: 1 / temperature, slope, C }),
    workgroups: [N, 1, 1],
    describe: `sepbn_attention_backward_hidden pre[${N},${H}] ${groups}x${K}${sets > 0 ? ` from the sums of [${N},${C}] and ${sets} sets` : ''}`,
  };
}

/** dlogit and dpre, the per-sample half of the backward pass. */
export const sepBnAttentionBackwardHiddenOp = defineOp<AttentionAttrs>({
  name: 'sepbn_attention_backward_hidden',
  inputs: ['a', 'grad', 'pre', 'fc2'],
  outputShapes: ([a, , pre]) => [[a[0], a[1] * a[2]], pre],
  cpu: ([a, da, pre, fc2], [dlogit, dpre], attrs) => cpuAttentionBackwardHidden(a.data, da.data, pre, fc2.data, dlogit.data, dpre.data, attrs),
  webgpu: (rt, [a, da, pre, fc2], [dlogit, dpre], attrs) => {
    rt.dispatch(sepBnAttentionBackwardHiddenLaunch(pre.shape, attrs, 0), [a.buffer, da.buffer, pre.buffer, fc2.buffer, dlogit.buffer, dpre.buffer]);
  },
});

/** Float64 dlogit [N, G*K] and dpre [N, H] from a and da ([N, G, K]), pre and fc2 [G*K, H]. */
export function cpuAttentionBackwardHidden(a: Float64Array, da: Float64Array, pre: CpuView, fc2: Float64Array, dlogit: Float64Array, dpre: Float64Array, { groups, K, temperature, slope }: AttentionAttrs): void {
  const [N, H] = pre.shape;
  const J = groups * K;
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < groups; g++) {
      const first = (n * groups + g) * K;
      let dot = 0;
      for (let k = 0; k < K; k++) dot += da[first + k] * a[first + k];
      for (let k = 0; k < K; k++) dlogit[first + k] = (a[first + k] * (da[first + k] - dot)) / temperature;
    }
    for (let h = 0; h < H; h++) {
      let s = 0;
      for (let j = 0; j < J; j++) s += dlogit[n * J + j] * fc2[j * H + h];
      dpre[n * H + h] = pre.data[n * H + h] > 0 ? s : s * slope;
    }
  }
}

/**
 * dpooled (pooled's shape and layout), dfc1 (fc1's shape) and dfc2 [K*G, H] from dlogit and dpre
 * (poolScale applied to the first two), and with offsetGradient the offset's [C]: dpooled summed over samples.
 */
export const sepBnAttentionBackwardParamsOp = defineOp<AttentionAttrs>({
  name: 'sepbn_attention_backward_params',
  inputs: ['dlogit', 'dpre', 'pre', 'pooled', 'fc1'],
  outputShapes: ([dlogit, dpre, , pooled, fc1], { offsetGradient }) => {
    const shapes = [pooled, fc1, [dlogit[1], dpre[1]]];
    return offsetGradient ? [...shapes, [sizeOf(pooled) / dpre[0]]] : shapes;
  },
  cpu: ([dlogit, dpre, pre, pooled, fc1], [dpooled, dfc1, dfc2, doffset], attrs) => {
    const { slope, poolScale } = attrs;
    const [N, H] = dpre.shape;
    const C = pooled.shape[0] * pooled.shape[1] / N;
    const { pooledStrideN, pooledStrideC } = pooledStrides(N, C, attrs);
    const at = (n: number, c: number) => n * pooledStrideN + c * pooledStrideC;
    const J = dlogit.shape[1];
    const dot = (length: number, at: (i: number) => number) => {
      let s = 0;
      for (let i = 0; i < length; i++) s += at(i);
      return s;
    };
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) dpooled.data[at(n, c)] = poolScale * dot(H, (h) => dpre.data[n * H + h] * fc1.data[h * C + c]);
    for (let h = 0; h < H; h++) for (let c = 0; c < C; c++) dfc1.data[h * C + c] = poolScale * dot(N, (n) => dpre.data[n * H + h] * pooled.data[at(n, c)]);
    for (let j = 0; j < J; j++) for (let h = 0; h < H; h++) dfc2.data[j * H + h] = dot(N, (n) => dlogit.data[n * J + j] * leaky(pre.data[n * H + h], slope));
    if (doffset) for (let c = 0; c < C; c++) doffset.data[c] = dot(N, (n) => dpooled.data[at(n, c)]);
  },
  webgpu: (rt, [dlogit, dpre, pre, pooled, fc1], [dpooled, dfc1, dfc2, doffset], attrs) => {
    const { slope, poolScale } = attrs;
    const [N, H] = dpre.shape;
    const C = pooled.shape[0] * pooled.shape[1] / N;
    const J = dlogit.shape[1];
    const grid = elementwiseGrid(N * C + H * C + J * H + (doffset ? C : 0));
    rt.dispatch(
      {
        kernel: 'sepbn_attention_backward_params',
        unroll: { BIAS: doffset ? 1 : 0 },
        access: ['read', 'read', 'read', 'read', 'read', 'read_write', 'read_write', 'read_write', ...(doffset ? (['read_write'] as const) : [])],
        uniforms: SepBnAttentionBackwardParams.pack({ N, C, H, J, slope, poolScale, rowStride: grid.rowStride, ...pooledStrides(N, C, attrs) }),
        workgroups: grid.workgroups,
        describe: `sepbn_attention_backward_params pooled[${pooled.shape}] fc1[${fc1.shape}]${doffset ? ' + offset' : ''}`,
      },
      [dlogit.buffer, dpre.buffer, pre.buffer, pooled.buffer, fc1.buffer, dpooled.buffer, dfc1.buffer, dfc2.buffer, ...(doffset ? [doffset.buffer] : [])],
    );
  },
});

/**
 * sepbn_attention's launch: (pooled, fc1, fc2, a, pre), and with `sets` = K > 0 (SepBN's training
 * op, train.ts) the mix of K gamma and K beta sets and the combination of the per-sample slices'
 * statistics after them: (gamma_0.., beta_0.., gammaNC, betaNC, sliceVariance, mean, variance),
 * with ceil(C / SAMPLE_WORKGROUP) workgroups for the statistics after the N samples'.
 */
export function sepBnAttentionLaunch({ N, C, H }: { N: number; C: number; H: number }, attrs: AttentionAttrs, sets: number): KernelLaunch {
  const { groups, K, temperature, slope, poolScale } = attrs;
  const mixAccess = sets > 0 ? [...Array.from({ length: 2 * sets }, () => 'read' as const), ...(['read_write', 'read_write', 'read', 'read_write', 'read_write'] as const)] : [];
  return {
    kernel: 'sepbn_attention',
    unroll: { SETS: sets },
    constants: { WORKGROUP_SIZE: SAMPLE_WORKGROUP },
    access: ['read', 'read', 'read', 'read_write', 'read_write', ...mixAccess],
    uniforms: SepBnAttentionParams.pack({ C, H, groups, K, invTemperature: 1 / temperature, slope, poolScale, ...pooledStrides(N, C, attrs), N }),
    workgroups: [N + (sets > 0 ? ceilDiv(C, SAMPLE_WORKGROUP) : 0), 1, 1],
    describe: `sepbn_attention pooled[${attrs.pooledChannelsFirst ? `${C},${N}` : `${N},${C}`}] fc1[${H},${C}] ${groups}x${K} T=${temperature}${sets > 0 ? `, mixing ${sets} sets, combining the statistics` : ''}`,
  };
}

/** The Float64 attention a [N, G, K] and pre [N, H] from pooled [N, C], fc1 and fc2. */
export function cpuAttention([pooled, fc1, fc2]: CpuView[], [a, pre]: CpuView[], attrs: AttentionAttrs): void {
  const { groups, K, temperature, slope, poolScale } = attrs;
  const { N, C, H, J } = attentionDims('sepbn_attention', pooled.shape, fc1.shape, fc2.shape, attrs);
  const logit = new Float64Array(J);
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < H; h++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += fc1.data[h * C + c] * pooled.data[n * C + c];
      pre.data[n * H + h] = poolScale * s;
    }
    for (let j = 0; j < J; j++) {
      let s = 0;
      for (let h = 0; h < H; h++) s += fc2.data[j * H + h] * leaky(pre.data[n * H + h], slope);
      logit[j] = s;
    }
    for (let g = 0; g < groups; g++) {
      const group = logit.subarray(g * K, (g + 1) * K);
      const m = Math.max(...group);
      const total = group.reduce((t, l) => t + Math.exp((l - m) / temperature), 0);
      group.forEach((l, k) => (a.data[(n * groups + g) * K + k] = Math.exp((l - m) / temperature) / total));
    }
  }
}

/** The attention a [N, G, K] (differentiable), then the hidden pre-activation [N, H] the backward pass reads. */
export const sepBnAttentionOp = defineOp<AttentionAttrs>({
  name: 'sepbn_attention',
  inputs: ['pooled', 'fc1', 'fc2'],
  outputShapes: ([pooled, fc1, fc2], attrs) => {
    const { N, H } = attentionDims('sepbn_attention', pooled, fc1, fc2, attrs);
    return [[N, attrs.groups, attrs.K], [N, H]];
  },
  cpu: cpuAttention,
  webgpu: (rt, [pooled, fc1, fc2], [a, pre], attrs) => {
    const d = attentionDims('sepbn_attention', pooled.shape, fc1.shape, fc2.shape, attrs);
    rt.dispatch(sepBnAttentionLaunch(d, attrs, 0), [pooled.buffer, fc1.buffer, fc2.buffer, a.buffer, pre.buffer]);
  },
  backward: ({ grad, inputs: [pooled, fc1, fc2], outputs: [a, pre], attrs, needs }) => {
    const [dlogit, dpre] = applyAll(sepBnAttentionBackwardHiddenOp, [a, grad, pre, fc2], attrs);
    const [dpooled, dfc1, dfc2] = applyAll(sepBnAttentionBackwardParamsOp, [dlogit, dpre, pre, pooled, fc1], attrs);
    return [needs[0] ? dpooled : null, needs[1] ? dfc1 : null, needs[2] ? dfc2.reshape(fc2.shape) : null];
  },
});

/** softmax_k(fc2 · leaky_relu(fc1 · poolScale · pooled) / T) per group: a [N, groups, K], in one dispatch. */
export function sepBnAttentionFused(pooled: Tensor, fc1: Tensor, fc2: Tensor, attrs: AttentionAttrs): Tensor {
  if (!(attrs.temperature > 0)) throw new Error(`sepbn_attention: temperature must be positive, got ${attrs.temperature}`);
  return applyAll(sepBnAttentionOp, [pooled, fc1, fc2], attrs)[0];
}

/** Witness inputs: pooled [N, C], fc1 [H, C, 1, 1], fc2 [K*G, H, 1, 1]. */
function attentionCase(N: number, C: number, H: number, groups: number, K: number, temperature: number, poolScale = 1) {
  const attrs = { groups, K, temperature, slope: 0.01, poolScale };
  return {
    label: `pooled[${N},${C}] H=${H} groups=${groups} K=${K} T=${temperature}${poolScale === 1 ? '' : ` poolScale ${poolScale}`}`,
    inputs: [
      { shape: [N, C], name: 'pooled' },
      { shape: [H, C, 1, 1], name: 'fc1' },
      { shape: [K * groups, H, 1, 1], name: 'fc2' },
    ],
    call: ([pooled, fc1, fc2]: Tensor[]) => sepBnAttentionFused(pooled, fc1, fc2, attrs),
    // As the softmax's: the attention's gradient is a difference of near-equal terms over T.
    gpuTolerance: 2e-5,
  };
}

export const witnesses: OpWitness[] = [
  {
    op: 'sepbn_attention',
    cases: [
      attentionCase(3, 10, 2, 1, 3, 2),
      attentionCase(2, 12, 3, 2, 3, 1, 0.25),
      attentionCase(1, 7, 1, 1, 2, 5),
      // More hidden units and groups than a workgroup has invocations: the strided loops wrap.
      attentionCase(2, 20, 70, 66, 2, 1),
    ],
  },
];
