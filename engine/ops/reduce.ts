// Reductions and their adjoint: sum and mean over axes, broadcastTo, and sumTo (the gradient of a
// broadcast). sum's backward is broadcastTo and broadcastTo's is sumTo, so each is two lines.
import { broadcastShapes, broadcastStrides, formatShape, normaliseAxes, sameShape, sizeOf, stridesOf, type Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { elementwiseGrid, FILL_WORKGROUPS, MAX_WORKGROUPS_PER_DIMENSION } from '../webgpu/grid.ts';
import { ceilDiv, defineUniformStruct, type KernelLaunch } from '../webgpu/launch.ts';
import { scale } from './arith.ts';
import { apply, defineOp } from './op.ts';
import { cpuStridedCopy, gpuStridedCopy } from './strided-copy.ts';
import type { OpWitness } from './witness.ts';

const MAX_RANK = 8;
/** One workgroup per output: 64 invocations keep a short row (a batch of 64 samples) busy. */
const SUM_WORKGROUP = 64;
/** A slice of a split reduction holds MIN_SPLIT_LENGTH values or more: 16 or more per invocation of 256. */
const SPLIT_SUM_WORKGROUP = 256;
/** Up to this many elements per output, one invocation sums them alone (sum_short.wgsl). */
const SHORT_REDUCTION = 32;

/**
 * Grid-wide partial sums. A reduction runs one workgroup per output and slice of its values; with
 * few outputs (BatchNorm statistics and the convolution bias gradient over the 64 channels of the
 * model's first layer) one slice each would leave most of a large GPU idle: an H100 has 132
 * multiprocessors and wants two workgroups each. So each output's values are cut into slices until
 * outputs x slices reaches FILL_WORKGROUPS, but never into slices shorter than
 * MIN_SPLIT_LENGTH, below which writing and combining a partial costs about as much as summing it.
 * The split applies under every kernel plan: it depends on nothing but the shapes, a CPU
 * rasteriser pays one small extra pass for it, and one path means every test runs it.
 */
export const MIN_SPLIT_LENGTH = 4096;

/**
 * How a reduction of `length` values into each of `outputs` results is cut: `splits` slices per
 * output, slice s holding floor(length / splits) values plus one for s < length % splits, so no
 * slice is shorter than MIN_SPLIT_LENGTH. The rule: splits = min(ceil(TARGET / outputs),
 * floor(length / MIN_SPLIT_LENGTH)), at least 1; so outputs x splits reaches the target exactly
 * when length >= ceil(TARGET / outputs) * MIN_SPLIT_LENGTH.
 */
export function splitReduction(outputs: number, length: number): { splits: number; longestSlice: number } {
  const splits = Math.max(1, Math.min(ceilDiv(FILL_WORKGROUPS, outputs), Math.floor(length / MIN_SPLIT_LENGTH)));
  return { splits, longestSlice: ceilDiv(length, splits) };
}

/**
 * `count` workgroups, one per (output, slice), folded into x and y (WebGPU caps a dimension at
 * 65535); shaders rebuild the index as workgroup_id.y * rowStride + workgroup_id.x.
 */
export function workgroupRows(count: number): { workgroups: [number, number, number]; rowStride: number } {
  const x = Math.max(1, Math.min(count, MAX_WORKGROUPS_PER_DIMENSION));
  return { workgroups: [x, ceilDiv(count, x), 1], rowStride: x };
}

/**
 * A reduction's passes, in order, from shapes alone. One launch binds (x, out); a split reduction
 * has two: the partial sums bind (x, partials) and the combine binds (partials, out).
 */
export interface ReductionLaunches {
  launches: KernelLaunch[];
  /** Floats of each scratch buffer the partials need (outputs x splits), 0 for one launch. */
  scratchFloats: number;
  splits: number;
}

/** The uniform struct of sum.wgsl and sum_short.wgsl (which reads no slices, so declares the fields before `splits`). */
const SumParams = defineUniformStruct(
  'SumParams',
  [
    ['outputs', 'u32'],
    ['reduceCount', 'u32'],
    ['keptRank', 'u32'],
    ['reducedRank', 'u32'],
    ['scale', 'f32'],
    ['rowStride', 'u32'],
    ['keptShape', 'array<vec4<u32>, 2>'],
    ['keptStrides', 'array<vec4<u32>, 2>'],
    ['reducedShape', 'array<vec4<u32>, 2>'],
    ['reducedStrides', 'array<vec4<u32>, 2>'],
    ['splits', 'u32'],
  ],
  { prefixKernels: ['sum_short'] },
);

/** The uniform struct of sum_partials.wgsl. */
const SumPartialsParams = defineUniformStruct('SumPartialsParams', [
  ['outputs', 'u32'],
  ['splits', 'u32'],
  ['scale', 'f32'],
  ['rowStride', 'u32'],
]);

interface SumAttrs {
  axes: number[];
  keepDims: boolean;
  /** 1 for a sum, 1/count for a mean. */
  scale: number;
}

function keptShape(shape: Shape, axes: number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** Splits the input's axes into kept and reduced runs, merging neighbours of the same kind. */
export function reductionPlan(shape: Shape, axes: number[]) {
  const strides = stridesOf(shape);
  const kept = { shape: [] as number[], strides: [] as number[] };
  const reduced = { shape: [] as number[], strides: [] as number[] };
  let previous: 'kept' | 'reduced' | undefined;
  shape.forEach((d, i) => {
    if (d === 1) return;
    const kind = axes.includes(i) ? 'reduced' : 'kept';
    const run = kind === 'kept' ? kept : reduced;
    if (previous === kind) {
      run.shape[run.shape.length - 1] *= d;
      run.strides[run.strides.length - 1] = strides[i];
    } else {
      run.shape.push(d);
      run.strides.push(strides[i]);
    }
    previous = kind;
  });
  return { kept, reduced, outputs: sizeOf(kept.shape), reduceCount: sizeOf(reduced.shape) };
}

/** sum's passes over `axes` of `shape`, times `scale`: see ReductionLaunches for the bindings. */
export function sumLaunches(shape: Shape, axes: number[], scale: number): ReductionLaunches {
  const plan = reductionPlan(shape, axes);
  if (plan.kept.shape.length > MAX_RANK || plan.reduced.shape.length > MAX_RANK) throw new Error(`sum: too many axes after merging for ${formatShape(shape)}`);
  const describe = `sum [${shape}] over axes [${axes}]`;
  const access: KernelLaunch['access'] = ['read', 'read_write'];
  const uniforms = (rowStride: number, splits: number, sliceScale: number) =>
    SumParams.pack({
      outputs: plan.outputs,
      reduceCount: plan.reduceCount,
      keptRank: plan.kept.shape.length,
      reducedRank: plan.reduced.shape.length,
      scale: sliceScale,
      rowStride,
      keptShape: plan.kept.shape,
      keptStrides: plan.kept.strides,
      reducedShape: plan.reduced.shape,
      reducedStrides: plan.reduced.strides,
      splits,
    });
  if (plan.reduceCount <= SHORT_REDUCTION) {
    // Few elements per output: one invocation each (sum_short.wgsl).
    const grid = elementwiseGrid(plan.outputs, SUM_WORKGROUP);
    const launch = { kernel: 'sum_short', constants: { WORKGROUP_SIZE: SUM_WORKGROUP }, access, uniforms: uniforms(grid.rowStride, 1, scale), workgroups: grid.workgroups, describe };
    return { launches: [launch], scratchFloats: 0, splits: 1 };
  }
  const { splits } = splitReduction(plan.outputs, plan.reduceCount);
  const rows = workgroupRows(plan.outputs * splits);
  if (splits === 1) {
    const launch = { kernel: 'sum', constants: { WORKGROUP_SIZE: SUM_WORKGROUP }, access, uniforms: uniforms(rows.rowStride, 1, scale), workgroups: rows.workgroups, describe };
    return { launches: [launch], scratchFloats: 0, splits };
  }
  // The slices' sums are scaled once, in the combine, as the unsplit sum is.
  const partials: KernelLaunch = {
    kernel: 'sum',
    constants: { WORKGROUP_SIZE: SPLIT_SUM_WORKGROUP },
    access,
    uniforms: uniforms(rows.rowStride, splits, 1),
    workgroups: rows.workgroups,
    describe: `${describe}, ${splits} slices each`,
  };
  const grid = elementwiseGrid(plan.outputs, SUM_WORKGROUP);
  const combine: KernelLaunch = {
    kernel: 'sum_partials',
    constants: { WORKGROUP_SIZE: SUM_WORKGROUP },
    access,
    uniforms: SumPartialsParams.pack({ outputs: plan.outputs, splits, scale, rowStride: grid.rowStride }),
    workgroups: grid.workgroups,
    describe: `partials[${plan.outputs},${splits}] of ${describe}`,
  };
  return { launches: [partials, combine], scratchFloats: plan.outputs * splits, splits };
}

export const sumOp = defineOp<SumAttrs>({
  name: 'sum',
  inputs: ['x'],
  outputShapes: ([x], { axes, keepDims }) => [keptShape(x, axes, keepDims)],
  cpu: ([x], [out], { axes, scale }) => {
    const plan = reductionPlan(x.shape, axes);
    for (let o = 0; o < plan.outputs; o++) {
      let base = 0;
      let rest = o;
      for (let a = plan.kept.shape.length - 1; a >= 0; a--) {
        base += (rest % plan.kept.shape[a]) * plan.kept.strides[a];
        rest = Math.floor(rest / plan.kept.shape[a]);
      }
      let acc = 0;
      for (let r = 0; r < plan.reduceCount; r++) {
        let offset = base;
        let rr = r;
        for (let a = plan.reduced.shape.length - 1; a >= 0; a--) {
          offset += (rr % plan.reduced.shape[a]) * plan.reduced.strides[a];
          rr = Math.floor(rr / plan.reduced.shape[a]);
        }
        acc += x.data[offset];
      }
      out.data[o] = acc * scale;
    }
  },
  webgpu: (rt, [x], [out], { axes, scale }) => {
    const plan = sumLaunches(x.shape, axes, scale);
    if (plan.launches.length === 1) {
      rt.dispatch(plan.launches[0], [x.buffer, out.buffer]);
      return;
    }
    // The partials live only between these two dispatches; the pool may hand the buffer to a
    // later dispatch of the same submit, which runs after both.
    const partials = rt.pool.acquire(plan.scratchFloats * 4, 'sum partials');
    rt.dispatch(plan.launches[0], [x.buffer, partials]);
    rt.dispatch(plan.launches[1], [partials, out.buffer]);
    rt.pool.release(partials);
  },
  // d(scale * sum x)/dx = scale, broadcast back over the reduced axes. The gradient is returned
  // unbroadcast ([..., 1, ...]); the tape adds it to x's other gradients by broadcasting and
  // expands it only where a full-size tensor is needed, so SepBN's pooled-input gradient costs
  // no extra pass over x.
  backward: ({ grad, inputs: [x], attrs: { axes, scale: s } }) => {
    const g = grad.reshape(keptShape(x.shape, axes, true));
    return [s === 1 ? g : scale(g, s)];
  },
});

export const broadcastToOp = defineOp<{ shape: number[] }>({
  name: 'broadcast_to',
  inputs: ['x'],
  outputShapes: ([x], { shape }) => {
    if (!sameShape(broadcastShapes('broadcast_to', x, shape), shape)) throw new Error(`broadcast_to: ${formatShape(x)} cannot be broadcast to ${formatShape(shape)}`);
    return [shape];
  },
  cpu: ([x], [out]) => cpuStridedCopy(x, out, broadcastStrides(x.shape, out.shape)),
  webgpu: (rt, [x], [out]) => gpuStridedCopy(rt, x, out, broadcastStrides(x.shape, out.shape), `broadcast [${x.shape}] -> [${out.shape}]`),
  backward: ({ grad, inputs: [x] }) => [sumTo(grad, x.shape)],
});

/** Sum over the given axes (all when omitted). */
export function sum(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const list = normaliseAxes('sum', axes, x.rank);
  return apply(sumOp, [x], { axes: list, keepDims, scale: 1 });
}

/** Mean over the given axes (all when omitted). */
export function mean(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const list = normaliseAxes('mean', axes, x.rank);
  const count = list.reduce((a, i) => a * x.shape[i], 1);
  return apply(sumOp, [x], { axes: list, keepDims, scale: 1 / count });
}

export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  return sameShape(x.shape, shape) ? x : apply(broadcastToOp, [x], { shape: [...shape] });
}

/** Sums a broadcast result back to `shape` (the gradient of broadcasting). */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  return sum(g, axes, true).reshape(shape);
}

export const witnesses: OpWitness[] = [
  {
    op: 'sum',
    cases: [
      { label: '[2,3,5,7] axes [0,2,3] (BN statistics)', inputs: [{ shape: [2, 3, 5, 7] }], call: ([x]) => sum(x, [0, 2, 3]) },
      { label: '[4,130] axis 1 (longer than a workgroup)', inputs: [{ shape: [4, 130] }], call: ([x]) => sum(x, 1, true) },
      { label: '[3,4] all', inputs: [{ shape: [3, 4] }], call: ([x]) => sum(x) },
      { label: '[5,3,7] axis 1 (short: one invocation per output)', inputs: [{ shape: [5, 3, 7] }], call: ([x]) => sum(x, 1) },
      { label: '[3,2,40,2] axes [0,2] (two reduced runs)', inputs: [{ shape: [3, 2, 40, 2] }], call: ([x]) => sum(x, [0, 2]) },
      { label: '[2,3,64,64] axes [0,2,3] (bias gradient: 2 slices each, combined)', inputs: [{ shape: [2, 3, 64, 64] }], call: ([x]) => sum(x, [0, 2, 3]) },
      { label: '[3,12289] axis 1 (3 slices of 4097 and 4096)', inputs: [{ shape: [3, 12289] }], call: ([x]) => sum(x, 1) },
      { label: '[2,3,64,64] mean of all (6 slices, scaled in the combine)', inputs: [{ shape: [2, 3, 64, 64] }], call: ([x]) => mean(x) },
    ],
  },
  {
    op: 'mean',
    composite: true,
    cases: [{ label: '[2,3,4,5] axes [2,3] (avg pool)', inputs: [{ shape: [2, 3, 4, 5] }], call: ([x]) => mean(x, [2, 3]) }],
  },
  {
    op: 'broadcast_to',
    cases: [{ label: '[3,1] -> [2,3,4]', inputs: [{ shape: [3, 1] }], call: ([x]) => broadcastTo(x, [2, 3, 4]) }],
  },
];
