// The attention's mix of SepBN's K parameter sets, fused (DESIGN.md's notation, p_k = gamma_k or beta_k):
//
//   out[n, c] = sum_k a[n, g(c), k] · p_k[c]          a: (N, G, K),  p_k: [C],  g(c) = c / (C/G)
//
// The K vectors are read where they lie (each set's own tensor, with PyTorch's name), so nothing
// stacks them into one tensor first. sep-batch-norm.ts keeps the same formula spelt with stack,
// permute, mul and sum (mixAffineComposite), the specification this op is tested against.
//
// Backward, g = dL/dout:
//   da[n, gr, k] = sum_{c in group gr} g[n, c] · p_k[c]
//   dp_k[c]      = sum_n g[n, c] · a[n, g(c), k]
// both from one kernel: the first workgroups own channels (every dp_k of their channels), the
// rest own (sample, group) pairs (the K entries of da for that pair).
import { formatShape, sameShape, type Shape } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { ceilDiv, defineUniformStruct } from '../../webgpu/launch.ts';
import { elementwiseGrid } from '../../webgpu/grid.ts';
import type { WebGpuRuntime } from '../../webgpu/runtime.ts';
import { apply, applyAll, defineOp, type CpuView } from '../op.ts';
import type { OpWitness } from '../witness.ts';

/** The sets one mix takes at most (each set's vector is a binding of its own). */
const MAX_SETS = 8;
const setInputs = Array.from({ length: MAX_SETS }, (_, k) => (k === 0 ? 'p0' : `p${k}?`));
/** Invocations per workgroup of mix_affine_backward.wgsl (its WORKGROUP_SIZE). */
const BACKWARD_WORKGROUP = 64;

interface MixDims {
  N: number;
  G: number;
  K: number;
  C: number;
}

/** Checks a is [N, G, K] for the K vectors p_k [C], with G dividing C. */
function mixDims(op: string, a: Shape, params: Shape[]): MixDims {
  const K = params.length;
  const C = params[0][0];
  params.forEach((p, k) => {
    if (p.length !== 1 || p[0] !== C) throw new Error(`${op}: every set must be a vector [${C}] like p0, p${k} is ${formatShape(p)}`);
  });
  if (a.length !== 3 || a[2] !== K) throw new Error(`${op}: the attention must be [N, G, ${K}] for ${K} sets, got ${formatShape(a)}`);
  const [N, G] = a;
  if (C % G !== 0) throw new Error(`${op}: ${C} channels do not split into ${G} equal groups`);
  return { N, G, K, C };
}

/** Storage bindings a kernel needs, checked against the adapter's per-stage limit with a message that names the way out. */
function checkBindings(rt: WebGpuRuntime, op: string, K: number, bindings: number): void {
  const limit = rt.adapter.limits.maxStorageBuffersPerShaderStage;
  if (bindings > limit) throw new Error(`${op}: ${K} sets need ${bindings} storage buffers in one kernel; this adapter binds at most ${limit}. Use fewer sets.`);
}

/** The uniform struct of mix_affine.wgsl. */
const MixAffineParams = defineUniformStruct('MixAffineParams', [
  ['total', 'u32'],
  ['C', 'u32'],
  ['groups', 'u32'],
  ['channelsPerGroup', 'u32'],
  ['rowStride', 'u32'],
]);

/** The uniform struct of mix_affine_backward.wgsl. */
const MixAffineBackwardParams = defineUniformStruct('MixAffineBackwardParams', [
  ['N', 'u32'],
  ['C', 'u32'],
  ['groups', 'u32'],
  ['channelsPerGroup', 'u32'],
  ['channelWorkgroups', 'u32'],
]);

/** out[n, c] = sum_k a[n, g(c), k] · p_k[c]: the per-sample gamma (or beta) of SepBN. */
export const mixAffineOp = defineOp<Record<string, never>>({
  name: 'mix_affine',
  inputs: ['a', ...setInputs],
  outputShapes: ([a, ...params]) => {
    const { N, C } = mixDims('mix_affine', a, params);
    return [[N, C]];
  },
  cpu: ([a, ...params], [out]) => {
    mixDims('mix_affine', a.shape, params.map((p) => p.shape));
    cpuMixAffine(a, params, out.data);
  },
  webgpu: (rt, [a, ...params], [out]) => {
    const { N, G, K, C } = mixDims('mix_affine', a.shape, params.map((p) => p.shape));
    checkBindings(rt, 'mix_affine', K, K + 2);
    const grid = elementwiseGrid(N * C);
    rt.dispatch(
      {
        kernel: 'mix_affine',
        unroll: { K },
        access: ['read', ...params.map(() => 'read' as const), 'read_write'],
        uniforms: MixAffineParams.pack({ total: N * C, C, groups: G, channelsPerGroup: C / G, rowStride: grid.rowStride }),
        workgroups: grid.workgroups,
        describe: `mix_affine a[${a.shape}] ${K} x p[${C}]`,
      },
      [a.buffer, ...params.map((p) => p.buffer), out.buffer],
    );
  },
  backward: ({ grad, inputs, needs }) => {
    const [da, ...dp] = applyAll(mixAffineBackwardOp, [grad, ...inputs], {});
    return [needs[0] ? da : null, ...dp.map((d, k) => (needs[k + 1] ? d : null))];
  },
});

/** mix_affine's gradients: da [N, G, K], then dp_k [C] for each set. */
export const mixAffineBackwardOp = defineOp<Record<string, never>>({
  name: 'mix_affine_backward',
  inputs: ['grad', 'a', ...setInputs],
  outputShapes: ([grad, a, ...params]) => {
    const { N, C } = mixDims('mix_affine_backward', a, params);
    if (!sameShape(grad, [N, C])) throw new Error(`mix_affine_backward: grad must be [${N},${C}], got ${formatShape(grad)}`);
    return [a, ...params];
  },
  cpu: ([grad, a, ...params], [da, ...dp]) => {
    const { N, G, K, C } = mixDims('mix_affine_backward', a.shape, params.map((p) => p.shape));
    const perGroup = C / G;
    da.data.fill(0);
    addMixAttentionGrad(grad.data, a.shape, params, da.data);
    for (let k = 0; k < K; k++) {
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let n = 0; n < N; n++) s += grad.data[n * C + c] * a.data[(n * G + Math.floor(c / perGroup)) * K + k];
        dp[k].data[c] = s;
      }
    }
  },
  webgpu: (rt, [grad, a, ...params], [da, ...dp]) => {
    const { N, G, K, C } = mixDims('mix_affine_backward', a.shape, params.map((p) => p.shape));
    checkBindings(rt, 'mix_affine_backward', K, 2 * K + 3);
    const channelWorkgroups = ceilDiv(C, BACKWARD_WORKGROUP);
    rt.dispatch(
      {
        kernel: 'mix_affine_backward',
        unroll: { K },
        constants: { WORKGROUP_SIZE: BACKWARD_WORKGROUP },
        access: ['read', 'read', ...params.map(() => 'read' as const), 'read_write', ...params.map(() => 'read_write' as const)],
        uniforms: MixAffineBackwardParams.pack({ N, C, groups: G, channelsPerGroup: C / G, channelWorkgroups }),
        workgroups: [channelWorkgroups + N * G, 1, 1],
        describe: `mix_affine_backward a[${a.shape}] ${K} x p[${C}]`,
      },
      [grad.buffer, a.buffer, ...params.map((p) => p.buffer), da.buffer, ...dp.map((d) => d.buffer)],
    );
  },
});

/** Float64 out[n, c] = sum_k a[n, g(c), k] · params_k[c] (k ascending); SepBN's training op mixes with it too. */
export function cpuMixAffine(a: CpuView, params: CpuView[], out: Float64Array): void {
  const [N, G, K] = a.shape;
  const C = params[0].shape[0];
  const perGroup = C / G;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const weights = (n * G + Math.floor(c / perGroup)) * K;
      let value = 0;
      for (let k = 0; k < K; k++) value += a.data[weights + k] * params[k].data[c];
      out[n * C + c] = value;
    }
  }
}

/** Float64 da[n, g, k] += sum_{c in group g} grad[n, c] · params_k[c], for a of shape [N, G, K]; SepBN's training op sums two such terms. */
export function addMixAttentionGrad(grad: Float64Array, [N, G, K]: Shape, params: CpuView[], da: Float64Array): void {
  const C = params[0].shape[0];
  const perGroup = C / G;
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let c = g * perGroup; c < (g + 1) * perGroup; c++) s += grad[n * C + c] * params[k].data[c];
        da[(n * G + g) * K + k] += s;
      }
    }
  }
}

/** gamma_nc = sum_k a[n, g(c), k] · params_k[c], for the K vectors params_k [C]: one kernel, no copies. */
export function mixAffine(a: Tensor, params: Tensor[]): Tensor {
  if (params.length < 1 || params.length > MAX_SETS) throw new Error(`mix_affine: takes 1 to ${MAX_SETS} sets, got ${params.length}`);
  return apply(mixAffineOp, [a, ...params], {});
}

/** Witness inputs: the attention [N, G, K], then K vectors [C]. */
function mixCase(N: number, G: number, K: number, C: number, note = '') {
  return {
    label: `a[${N},${G},${K}] ${K} x p[${C}]${note}`,
    inputs: [{ shape: [N, G, K], name: 'a' }, ...Array.from({ length: K }, (_, k) => ({ shape: [C], name: `p_${k}` }))],
    call: ([a, ...params]: Tensor[]) => mixAffine(a, params),
  };
}

export const witnesses: OpWitness[] = [
  {
    op: 'mix_affine',
    cases: [
      mixCase(3, 1, 3, 10),
      mixCase(2, 2, 3, 12, ' (2 groups)'),
      mixCase(1, 1, 2, 7, ' N=1'),
      mixCase(2, 3, 4, 9, ' (3 groups of 3)'),
      // More channels than a workgroup: several channel workgroups, and strided group sums.
      mixCase(2, 1, 3, 150, ' (150 channels)'),
    ],
  },
];
