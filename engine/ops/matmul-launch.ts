// Launch arithmetic for the batched matrix multiply kernels (shaders/matmul.wgsl,
// shaders/matmul_skinny.wgsl, shaders/matmul_sum_splits.wgsl, shaders/matmul_subgroup.wgsl,
// shaders/matmul_naive.wgsl): from a problem's shapes and the adapter's traits and limits to
// KernelLaunches, with no GPU objects, so it is testable without a device.

import { ELEMENTWISE_WORKGROUP_SIZE, FILL_WORKGROUPS, MAX_WORKGROUPS_PER_DIMENSION, elementwiseGrid } from '../webgpu/grid.ts';
import { DEFAULT_KERNEL_LIMITS, type KernelChoice, type KernelLimits } from '../webgpu/kernel-plan.ts';
import { type KernelLaunch, ceilDiv, defineUniformStruct } from '../webgpu/launch.ts';
import type { SplitPlan } from '../webgpu/split-plan.ts';

/**
 * C[z] = op(A[z]) · op(B[z]) (+ bias[N] broadcast along rows) (then optional LeakyReLU), z < batch.
 * op(A) is M x K, stored [M,K], or [K,M] when transA; op(B) is K x N, stored [K,N], or [N,K] when transB;
 * C is stored [M,N]. Batch strides are in elements and default to densely packed matrices;
 * bBatchStride 0 shares one B across the batch (a Linear layer's weight).
 */
export interface MatmulProblem {
  M: number;
  N: number;
  K: number;
  batch?: number;
  transA?: boolean;
  transB?: boolean;
  hasBias?: boolean;
  activation?: 'none' | 'leaky_relu';
  /** LeakyReLU negative slope; PyTorch's default 0.01. */
  slope?: number;
  aBatchStride?: number;
  bBatchStride?: number;
  cBatchStride?: number;
}

/** Storage bindings a, b, bias, c, in binding order. */
const MATMUL_ACCESS: KernelLaunch['access'] = ['read', 'read', 'read', 'read_write'];

/** A tile configuration of shaders/matmul.wgsl: the values of its `override` constants. */
export interface MatmulTiling {
  name: string;
  workgroupCols: number;
  workgroupRows: number;
  /** 4, 8, 12 or 16 rows of C per invocation. */
  rowsPerInvocation: number;
  /** 4, 8, 12 or 16 columns of C per invocation. */
  colsPerInvocation: number;
  tileK: number;
  /** Stage op(B) through workgroup memory (true), or read it straight from global memory (false). */
  stageB: boolean;
}

// The tilings for adapters without fixed-size subgroups under the software plan, chosen by
// measurement on lavapipe (Dawn on llvmpipe, 8-wide AVX2). There every load inside the K loop costs
// a scalar load per SIMD lane, uniform address or not, so what counts is multiply-adds per loaded
// value: a 16 x 16 register block does 256 per 32 loaded values (8 x 16 does 128 per 24, 8 x 8 does
// 64 per 16). At 1024^3 16 x 16 blocks beat 8 x 16 on the same 128 x 128 tiles in 5 of 5 back-to-back
// pairs, by 5-25%; a 64 x 64 tile with k steps of 32 (16 invocations) was slower, and k steps of 8
// instead of 16 made no clear difference. The hardware plan has its own (HARDWARE_BLOCKS).
export const MATMUL_TILINGS = {
  /** M > 8: 128 x 128 outputs per workgroup of 8 x 8 invocations, 16 x 16 per invocation; 16 KiB of tiles. */
  square: { name: 'square', workgroupCols: 8, workgroupRows: 8, rowsPerInvocation: 16, colsPerInvocation: 16, tileK: 16, stageB: true },
  /** K <= 8 (a batch-8 Linear layer's weight gradient): 8 x 16 blocks on 128 x 128 tiles without zero-padding K to 16. */
  shallow: { name: 'shallow', workgroupCols: 8, workgroupRows: 16, rowsPerInvocation: 8, colsPerInvocation: 16, tileK: 8, stageB: true },
  /**
   * M <= 8 (the batch-8 Linear layers): one 8-row band, 256 columns per workgroup of 16 invocations.
   * The band covers all of M, so no two invocations share op(B) and it is read straight from memory.
   */
  skinny: { name: 'skinny', workgroupCols: 16, workgroupRows: 1, rowsPerInvocation: 8, colsPerInvocation: 16, tileK: 32, stageB: false },
} as const satisfies Record<string, MatmulTiling>;

/** The software plan's tiling for a problem the subgroup kernel does not take. */
export function chooseMatmulTiling(p: MatmulProblem): MatmulTiling {
  if (p.M <= MATMUL_TILINGS.skinny.rowsPerInvocation) return MATMUL_TILINGS.skinny;
  if (p.K <= MATMUL_TILINGS.shallow.tileK) return MATMUL_TILINGS.shallow;
  return MATMUL_TILINGS.square;
}

/**
 * The hardware plan's register blocks for M > 8 on shaders/matmul.wgsl, most reuse first; TILE_K
 * follows K and the adapter's workgroup memory (hardwareTiling). A problem takes the first that,
 * split along K if need be, gives FILL_WORKGROUPS; smaller blocks exist for the passes whose
 * output is too small for 128 x 128 tiles and whose K is too short to split much (fc2's, 196 wide).
 */
export const HARDWARE_BLOCKS = [
  /**
   * 128 x 128 outputs, 8 x 16 per invocation: 128 accumulators, where the 256 of `square` would
   * spill past the 255 registers an NVIDIA thread has.
   */
  { name: 'square-hardware', workgroupCols: 8, workgroupRows: 16, rowsPerInvocation: 8, colsPerInvocation: 16 },
  /** 64 x 128, the same block: for M <= 64 (a Linear layer at batch 64), where 128 rows would be half padding. */
  { name: 'half-hardware', workgroupCols: 8, workgroupRows: 8, rowsPerInvocation: 8, colsPerInvocation: 16 },
  /** 64 x 64, 8 x 8 per invocation. */
  { name: 'block-8x8', workgroupCols: 8, workgroupRows: 8, rowsPerInvocation: 8, colsPerInvocation: 8 },
  /** 32 x 32, 4 x 4 per invocation: fc2's passes at batch 8 and 64. */
  { name: 'block-4x4', workgroupCols: 8, workgroupRows: 8, rowsPerInvocation: 4, colsPerInvocation: 4 },
] as const satisfies ReadonlyArray<Omit<MatmulTiling, 'tileK' | 'stageB'>>;

/**
 * A hardware block with its k step: the shortest of 8, 16, 32 that covers K (a weight gradient at
 * batch 8 has K = 8), else the longest whose tiles fit the adapter's workgroup memory: 32 halves the
 * barriers per multiply-add where 32 KiB allows it. Several rows of invocations share each value
 * of op(B), so it is staged.
 */
export function hardwareTiling(block: (typeof HARDWARE_BLOCKS)[number], K: number, limits: KernelLimits = DEFAULT_KERNEL_LIMITS): MatmulTiling {
  const tileM = block.workgroupRows * block.rowsPerInvocation;
  const tileN = block.workgroupCols * block.colsPerInvocation;
  const fitting = [32, 16, 8].filter((tileK) => tileWorkgroupBytes(tileK, tileM, tileN, true) <= limits.maxComputeWorkgroupStorageSize);
  const tileK = Math.min(fitting[0] ?? 8, [8, 16, 32].find((k) => k >= K) ?? 32);
  return { ...block, tileK, stageB: true };
}

/** How K is cut: `splits` slices of `splitLength` (the last may be shorter); one split is the whole of K. */
export interface MatmulSplit {
  splits: number;
  splitLength: number;
}

const wholeK = (p: MatmulProblem): MatmulSplit => ({ splits: 1, splitLength: p.K });


/**
 * The op's launches for a problem: one, binding (a, b, bias, c); or, where the hardware plan splits
 * K, the partial products binding (a, b, bias, scratch) and their sum binding (scratch, bias, c).
 */
export interface MatmulPlan extends SplitPlan {
  /** With a split, scratchFloats holds the partial products, [splits, batch, M, N]. */
  splits: number;
  splitLength: number;
}

/**
 * What the op dispatches under a kernel plan: the software plan (a CPU rasteriser with fixed-size
 * subgroups) takes the subgroup-broadcast kernel wherever the problem's alignment allows it (2-3x
 * the workgroup-memory tiling there, and 10-20x the naive kernel), otherwise the workgroup-memory
 * tiling; the naive plan one output per invocation; the hardware plan a tiling sized from the
 * adapter's limits, split over K (partial products, then their sum) where the output tiles alone
 * are too few to fill a large GPU.
 */
export function planMatmul(p: MatmulProblem, kernels: KernelChoice): MatmulPlan {
  if (kernels.plan !== 'hardware') return { launches: [untiledOrSoftware(p, kernels)], scratchFloats: 0, ...wholeK(p) };
  const { kernel, split } = chooseHardwarePlan(p, kernels.limits ?? DEFAULT_KERNEL_LIMITS);
  const partials = kernel.launch(split);
  if (split.splits === 1) return { launches: [partials], scratchFloats: 0, ...split };
  return { launches: [partials, matmulSumSplitsLaunch(p, split.splits)], scratchFloats: split.splits * (p.batch ?? 1) * p.M * p.N, ...split };
}

/** The naive or software plan's single launch. */
function untiledOrSoftware(p: MatmulProblem, kernels: KernelChoice): KernelLaunch {
  if (kernels.plan === 'naive') return matmulNaiveLaunch(p);
  if (kernels.subgroupSize !== undefined) {
    const launch = matmulSubgroupLaunch(p, kernels.subgroupSize);
    if (launch) return launch;
  }
  return matmulLaunch(p, chooseMatmulTiling(p));
}

/** A kernel and tiling the hardware plan may take: its output tiles per matrix, and how finely it may cut K. */
interface HardwareKernel {
  tiles: number;
  /** Slices are multiples of this: the tiling's k step, or the skinny kernel's lanes along k. */
  granularity: number;
  minSplitLength: number;
  launch(split: MatmulSplit): KernelLaunch;
}

/**
 * The hardware plan's kernels for a problem, in order of preference: the skinny kernel for M <= 8,
 * else HARDWARE_BLOCKS, without the 128-row tile where 64-row tiles pad fewer rows.
 */
function hardwareKernels(p: MatmulProblem, limits: KernelLimits): HardwareKernel[] {
  const described = (tileM: number, tileN: number, granularity: number, launch: (split: MatmulSplit) => KernelLaunch): HardwareKernel => ({
    tiles: ceilDiv(p.M, tileM) * ceilDiv(p.N, tileN),
    granularity,
    // A split reads splitLength x (tileM + tileN) inputs and writes tileM x tileN partial sums (read
    // back once by the sum): no shorter than this, it never writes more values than it reads.
    minSplitLength: ceilDiv(ceilDiv(tileM * tileN, tileM + tileN), granularity) * granularity,
    launch,
  });
  if (p.M <= SKINNY_ROWS) {
    const layout = skinnyLayout(p);
    return [described(SKINNY_ROWS, 4 * layout.colQuads, layout.kLanes, (split) => matmulSkinnyLaunch(p, split))];
  }
  const padded = (rows: number) => ceilDiv(p.M, rows) * rows;
  const blocks = HARDWARE_BLOCKS.filter((b) => b.name !== 'square-hardware' || padded(128) <= padded(64));
  return blocks.map((block) => {
    const tiling = hardwareTiling(block, p.K, limits);
    const tileM = tiling.workgroupRows * tiling.rowsPerInvocation;
    const tileN = tiling.workgroupCols * tiling.colsPerInvocation;
    return described(tileM, tileN, tiling.tileK, (split) => matmulLaunch(p, tiling, split, limits));
  });
}

/**
 * The first kernel that reaches FILL_WORKGROUPS, with the split that gets it there; where none
 * does (a tiny matmul), the one with the most workgroups, and of those the smallest tiles (the
 * least padding).
 */
function chooseHardwarePlan(p: MatmulProblem, limits: KernelLimits): { kernel: HardwareKernel; split: MatmulSplit } {
  let best: { kernel: HardwareKernel; split: MatmulSplit; workgroups: number } | undefined;
  for (const kernel of hardwareKernels(p, limits)) {
    const split = chooseSplit(p, kernel, limits);
    const workgroups = kernel.tiles * (p.batch ?? 1) * split.splits;
    if (workgroups >= FILL_WORKGROUPS) return { kernel, split };
    if (!best || workgroups >= best.workgroups) best = { kernel, split, workgroups };
  }
  return best!;
}

/**
 * How to cut K so that tiles x batch x splits reaches FILL_WORKGROUPS: no cut where the tiles
 * already do; otherwise the longest slices (multiples of the kernel's granularity, at least its
 * minimum) that give enough splits, within what the scratch buffer ([splits, batch, M, N], bound
 * whole) allows. The grid's z, batch x splits, stays within a few times FILL_WORKGROUPS, far below
 * 65535: a batch that needs splits is smaller than it, and rounding the slices down at most doubles
 * the splits wanted.
 */
function chooseSplit(p: MatmulProblem, kernel: HardwareKernel, limits: KernelLimits): MatmulSplit {
  const batch = p.batch ?? 1;
  const perSplit = kernel.tiles * batch;
  if (perSplit >= FILL_WORKGROUPS) return wholeK(p);
  const allowed = Math.max(1, Math.floor(limits.maxStorageBufferBindingSize / (4 * batch * p.M * p.N)));
  const g = kernel.granularity;
  const wanted = Math.min(ceilDiv(FILL_WORKGROUPS, perSplit), allowed);
  // Rounding the slices down gives at least `wanted` splits; the last may be short, which leaves the
  // longest slice, the one the pass waits for, no longer than an even cut would.
  let splitLength = Math.max(kernel.minSplitLength, g * Math.floor(p.K / (wanted * g)));
  if (ceilDiv(p.K, splitLength) > allowed) splitLength = g * ceilDiv(p.K, allowed * g);
  if (splitLength >= p.K) return wholeK(p);
  return { splits: ceilDiv(p.K, splitLength), splitLength };
}

export function matmulLaunch(
  p: MatmulProblem,
  tiling: MatmulTiling = chooseMatmulTiling(p),
  split: MatmulSplit = wholeK(p),
  limits: KernelLimits = DEFAULT_KERNEL_LIMITS,
): KernelLaunch {
  checkTiling(tiling, limits);
  const tileM = tiling.workgroupRows * tiling.rowsPerInvocation;
  const tileN = tiling.workgroupCols * tiling.colsPerInvocation;
  return {
    kernel: 'matmul',
    constants: {
      WORKGROUP_COLS: tiling.workgroupCols,
      WORKGROUP_ROWS: tiling.workgroupRows,
      ROWS_PER_INVOCATION: tiling.rowsPerInvocation,
      COLS_PER_INVOCATION: tiling.colsPerInvocation,
      TILE_K: tiling.tileK,
      STAGE_B: tiling.stageB ? 1 : 0,
    },
    access: MATMUL_ACCESS,
    uniforms: matmulUniforms(p, split),
    workgroups: workgroupCounts(p, tileM, tileN, split.splits),
    describe: `${describeMatmul(p)} tiling ${tiling.name} (${tileM}x${tileN}x${tiling.tileK})${describeSplit(split)}`,
  };
}

function tileWorkgroupBytes(tileK: number, tileM: number, tileN: number, stageB: boolean): number {
  return 4 * tileK * (tileM + (stageB ? tileN : 0));
}

/** The shader's limits on its overrides (see the comments at the top of shaders/matmul.wgsl) and the adapter's. */
function checkTiling(t: MatmulTiling, limits: KernelLimits): void {
  const invocations = t.workgroupCols * t.workgroupRows;
  const tileM = t.workgroupRows * t.rowsPerInvocation;
  const tileN = t.workgroupCols * t.colsPerInvocation;
  const workgroupBytes = tileWorkgroupBytes(t.tileK, tileM, tileN, t.stageB);
  const maxInvocations = limits.maxComputeInvocationsPerWorkgroup;
  const maxBytes = limits.maxComputeWorkgroupStorageSize;
  const problems = [
    [t.rowsPerInvocation % 4 === 0 && t.rowsPerInvocation <= 16, 'rowsPerInvocation must be 4, 8, 12 or 16'],
    [t.colsPerInvocation % 4 === 0 && t.colsPerInvocation <= 16, 'colsPerInvocation must be 4, 8, 12 or 16'],
    [invocations <= maxInvocations, `at most ${maxInvocations} invocations per workgroup`],
    [workgroupBytes <= maxBytes, `tiles take ${workgroupBytes} bytes of workgroup memory; at most ${maxBytes}`],
  ] as const;
  for (const [ok, rule] of problems) if (!ok) throw new Error(`matmul tiling ${t.name}: ${rule}`);
}

/** Rows of C a skinny workgroup covers: all of M, for M <= 8 (a Linear layer at batch 8 or less). */
const SKINNY_ROWS = 8;

/**
 * The two layouts of shaders/matmul_skinny.wgsl's 128 invocations: k runs fastest through the
 * workgroup where op(B) is stored [N,K] (transB, a forward pass), columns where it is stored [K,N],
 * so that neighbouring invocations always read neighbouring values of B, the matrix that dominates
 * the traffic when M is this small.
 */
function skinnyLayout(p: MatmulProblem): { kLanes: number; colQuads: number } {
  return p.transB ? { kLanes: 32, colQuads: 4 } : { kLanes: 4, colQuads: 32 };
}

/** shaders/matmul_skinny.wgsl: M <= 8, one 8-row band per workgroup, K spread over lanes and summed in workgroup memory. */
export function matmulSkinnyLaunch(p: MatmulProblem, split: MatmulSplit = wholeK(p)): KernelLaunch {
  if (p.M > SKINNY_ROWS) throw new Error(`${describeMatmul(p)}: the skinny kernel takes at most ${SKINNY_ROWS} rows`);
  const { kLanes, colQuads } = skinnyLayout(p);
  const tileN = 4 * colQuads;
  return {
    kernel: 'matmul_skinny',
    constants: { K_LANES: kLanes, COL_QUADS: colQuads, LANES_ALONG_K: p.transB ? 1 : 0 },
    access: MATMUL_ACCESS,
    uniforms: matmulUniforms(p, split),
    workgroups: workgroupCounts(p, SKINNY_ROWS, tileN, split.splits),
    describe: `${describeMatmul(p)} skinny (${SKINNY_ROWS}x${tileN}, ${kLanes} lanes along k)${describeSplit(split)}`,
  };
}

function describeSplit(split: MatmulSplit): string {
  return split.splits > 1 ? `, ${split.splits} splits of ${split.splitLength}` : '';
}

const MatmulSumSplitsParams = defineUniformStruct('MatmulSumSplitsParams', [
  ['count', 'u32'],
  ['matrixSize', 'u32'],
  ['N', 'u32'],
  ['splits', 'u32'],
  ['hasBias', 'u32'],
  ['activation', 'u32'],
  ['slope', 'f32'],
  ['cBatchStride', 'u32'],
  ['rowStride', 'u32'],
]);

/** shaders/matmul_sum_splits.wgsl: adds the partial products in split order, then the bias and the activation (binds scratch, bias, c). */
export function matmulSumSplitsLaunch(p: MatmulProblem, splits: number): KernelLaunch {
  const batch = p.batch ?? 1;
  const count = batch * p.M * p.N;
  const grid = elementwiseGrid(count);
  return {
    kernel: 'matmul_sum_splits',
    constants: { WORKGROUP_SIZE: ELEMENTWISE_WORKGROUP_SIZE },
    access: ['read', 'read', 'read_write'],
    uniforms: MatmulSumSplitsParams.pack({
      count,
      matrixSize: p.M * p.N,
      N: p.N,
      splits,
      hasBias: p.hasBias ? 1 : 0,
      activation: p.activation === 'leaky_relu' ? 1 : 0,
      slope: p.slope ?? 0.01,
      cBatchStride: p.cBatchStride ?? p.M * p.N,
      rowStride: grid.rowStride,
    }),
    workgroups: grid.workgroups,
    describe: `partials[${splits},${batch},${p.M},${p.N}] -> ${describeMatmul(p)}`,
  };
}

/** Invocations per workgroup of the subgroup kernel, and vec4s of columns each owns. */
const SUBGROUP_WORKGROUP_SIZE = 64;
const SUBGROUP_COL_VEC4S = 2;

/**
 * shaders/matmul_subgroup.wgsl for subgroups of `lanes` invocations, or undefined where its vec4
 * loads do not fit the problem: every vec4 it loads or stores must start at a multiple of 4 floats.
 */
export function matmulSubgroupLaunch(p: MatmulProblem, lanes: number): KernelLaunch | undefined {
  checkMatmulProblem(p);
  const aStride = p.aBatchStride ?? p.M * p.K;
  const bStride = p.bBatchStride ?? p.K * p.N;
  const cStride = p.cBatchStride ?? p.M * p.N;
  const aligned = [p.N, aStride, bStride, cStride, p.transA ? p.M : p.K, p.transB ? p.K : p.N].every((n) => n % 4 === 0);
  if (!aligned || SUBGROUP_WORKGROUP_SIZE % lanes !== 0) return undefined;
  // One row per lane covers a batch-8 Linear layer; with A stored [K,M] a lane loads rows 4 at a time.
  const rowsPerLane = p.transA ? 4 : p.M <= lanes ? 1 : p.M <= 2 * lanes ? 2 : 4;
  const tileM = lanes * rowsPerLane;
  const tileN = SUBGROUP_WORKGROUP_SIZE * SUBGROUP_COL_VEC4S * 4;
  return {
    kernel: 'matmul_subgroup',
    unroll: {
      LANES: lanes,
      ROWS_PER_LANE: rowsPerLane,
      COL_VEC4S: SUBGROUP_COL_VEC4S,
      WORKGROUP_SIZE: SUBGROUP_WORKGROUP_SIZE,
      TRANS_A: p.transA ? 1 : 0,
      TRANS_B: p.transB ? 1 : 0,
    },
    access: MATMUL_ACCESS,
    uniforms: matmulUniforms(p),
    workgroups: workgroupCounts(p, tileM, tileN),
    describe: `${describeMatmul(p)} tiling subgroup (${tileM}x${tileN}x4, ${lanes} lanes)`,
  };
}

/** The naive kernel's 16 x 16 invocations each compute one output. */
const NAIVE_WORKGROUP_SIDE = 16;

export function matmulNaiveLaunch(p: MatmulProblem): KernelLaunch {
  return {
    kernel: 'matmul_naive',
    constants: { WORKGROUP_COLS: NAIVE_WORKGROUP_SIDE, WORKGROUP_ROWS: NAIVE_WORKGROUP_SIDE },
    access: MATMUL_ACCESS,
    uniforms: matmulUniforms(p),
    workgroups: workgroupCounts(p, NAIVE_WORKGROUP_SIDE, NAIVE_WORKGROUP_SIDE),
    describe: `${describeMatmul(p)} naive`,
  };
}

/**
 * The uniform struct of the matmul shaders. The last three fields place a split of K: workgroup z
 * is split * batch + the matrix's index; only the kernels that split (matmul, matmul_skinny) declare them.
 */
const MatmulParams = defineUniformStruct('MatmulParams', [
  ['M', 'u32'],
  ['N', 'u32'],
  ['K', 'u32'],
  ['transA', 'u32'],
  ['transB', 'u32'],
  ['hasBias', 'u32'],
  ['activation', 'u32'],
  ['slope', 'f32'],
  ['aBatchStride', 'u32'],
  ['bBatchStride', 'u32'],
  ['cBatchStride', 'u32'],
  ['batch', 'u32'],
  ['splitLength', 'u32'],
  ['splits', 'u32'],
], { prefixKernels: ['matmul_naive', 'matmul_subgroup'] });

export function matmulUniforms(p: MatmulProblem, split: MatmulSplit = wholeK(p)): ArrayBuffer {
  checkMatmulProblem(p);
  return MatmulParams.pack({
    M: p.M,
    N: p.N,
    K: p.K,
    transA: p.transA ? 1 : 0,
    transB: p.transB ? 1 : 0,
    hasBias: p.hasBias ? 1 : 0,
    activation: p.activation === 'leaky_relu' ? 1 : 0,
    slope: p.slope ?? 0.01,
    aBatchStride: p.aBatchStride ?? p.M * p.K,
    bBatchStride: p.bBatchStride ?? p.K * p.N,
    cBatchStride: p.cBatchStride ?? p.M * p.N,
    batch: p.batch ?? 1,
    splitLength: split.splitLength,
    splits: split.splits,
  });
}

/** 'a[K,M]ᵀ b[K,N] bias[N] -> c[batch,M,N] leaky_relu(0.01)': the shapes as stored. */
export function describeMatmul(p: MatmulProblem): string {
  const batch = p.batch ?? 1;
  const a = p.transA ? `a[${p.K},${p.M}]ᵀ` : `a[${p.M},${p.K}]`;
  const b = p.transB ? `b[${p.N},${p.K}]ᵀ` : `b[${p.K},${p.N}]`;
  const bias = p.hasBias ? ` bias[${p.N}]` : '';
  const activation = p.activation === 'leaky_relu' ? ` leaky_relu(${p.slope ?? 0.01})` : '';
  return `matmul ${a} ${b}${bias} -> c[${batch},${p.M},${p.N}]${activation}`;
}

function workgroupCounts(p: MatmulProblem, tileM: number, tileN: number, splits = 1): [number, number, number] {
  const counts: [number, number, number] = [ceilDiv(p.N, tileN), ceilDiv(p.M, tileM), (p.batch ?? 1) * splits];
  counts.forEach((count, axis) => {
    if (count > MAX_WORKGROUPS_PER_DIMENSION) {
      throw new Error(
        `${describeMatmul(p)}: needs ${count} workgroups along ${'xyz'[axis]}, over the limit of ${MAX_WORKGROUPS_PER_DIMENSION}; split the ${axis === 2 ? 'batch' : 'matrix'} into several calls`,
      );
    }
  });
  return counts;
}

function checkMatmulProblem(p: MatmulProblem): void {
  const sizes: Array<[string, number | undefined]> = [['M', p.M], ['N', p.N], ['K', p.K], ['batch', p.batch ?? 1]];
  for (const [name, value] of sizes) {
    if (!Number.isInteger(value) || value! < 1) throw new Error(`matmul: ${name} is ${value}; it must be an integer >= 1`);
  }
  const strides: Array<[string, number | undefined]> = [['aBatchStride', p.aBatchStride], ['bBatchStride', p.bBatchStride], ['cBatchStride', p.cBatchStride]];
  for (const [name, value] of strides) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value >= 2 ** 32)) {
      throw new Error(`${describeMatmul(p)}: ${name} is ${value}; it must be an integer in [0, 2^32)`);
    }
  }
}
