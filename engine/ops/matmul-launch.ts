// Launch arithmetic for the batched matrix multiply kernels (shaders/matmul.wgsl,
// shaders/matmul_subgroup.wgsl, shaders/matmul_naive.wgsl): from a problem's shapes and the adapter's
// traits to a KernelLaunch, with no GPU objects, so it is testable without a device.

import { MAX_WORKGROUPS_PER_DIMENSION } from '../webgpu/grid.ts';
import type { KernelChoice } from '../webgpu/kernel-plan.ts';
import { type KernelLaunch, ceilDiv, defineUniformStruct } from '../webgpu/launch.ts';

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

/** WebGPU's default maxComputeWorkgroupsPerDimension, which every adapter offers. */

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

// Chosen by measurement on lavapipe (Dawn on llvmpipe, 8-wide AVX2). There every load inside the K loop
// costs a scalar load per SIMD lane, uniform address or not, so what counts is multiply-adds per loaded
// value: a 16 x 16 register block does 256 per 32 loaded values (8 x 16 does 128 per 24, 8 x 8 does
// 64 per 16). At 1024^3 16 x 16 blocks beat 8 x 16 on the same 128 x 128 tiles in 5 of 5 back-to-back
// pairs, by 5-25%; a 64 x 64 tile with k steps of 32 (16 invocations) was slower, and k steps of 8
// instead of 16 made no clear difference.
export const MATMUL_TILINGS = {
  /** M > 8: 128 x 128 outputs per workgroup of 8 x 8 invocations, 16 x 16 per invocation; 16 KiB of tiles. */
  square: { name: 'square', workgroupCols: 8, workgroupRows: 8, rowsPerInvocation: 16, colsPerInvocation: 16, tileK: 16, stageB: true },
  /**
   * M > 8 on a hardware GPU: 8 x 16 per invocation (128 accumulators). The 256 accumulators of
   * `square` suit a CPU rasteriser's registers-in-memory but would spill past the 255 registers an
   * NVIDIA thread has.
   */
  squareHardware: { name: 'square-hardware', workgroupCols: 8, workgroupRows: 16, rowsPerInvocation: 8, colsPerInvocation: 16, tileK: 16, stageB: true },
  /** K <= 8 (a batch-8 Linear layer's weight gradient): the square tiling without zero-padding K to 16. */
  shallow: { name: 'shallow', workgroupCols: 8, workgroupRows: 16, rowsPerInvocation: 8, colsPerInvocation: 16, tileK: 8, stageB: true },
  /**
   * M <= 8 (the batch-8 Linear layers): one 8-row band, 256 columns per workgroup of 16 invocations.
   * The band covers all of M, so no two invocations share op(B) and it is read straight from memory.
   */
  skinny: { name: 'skinny', workgroupCols: 16, workgroupRows: 1, rowsPerInvocation: 8, colsPerInvocation: 16, tileK: 32, stageB: false },
} as const satisfies Record<string, MatmulTiling>;

/** The tiling for a problem's shape under the software (lavapipe) or hardware plan. */
export function chooseMatmulTiling(p: MatmulProblem, plan: 'software' | 'hardware' = 'software'): MatmulTiling {
  if (p.M <= MATMUL_TILINGS.skinny.rowsPerInvocation) return MATMUL_TILINGS.skinny;
  if (p.K <= MATMUL_TILINGS.shallow.tileK) return MATMUL_TILINGS.shallow;
  return plan === 'hardware' ? MATMUL_TILINGS.squareHardware : MATMUL_TILINGS.square;
}

/**
 * The launch for a problem under a kernel plan: the software plan (a CPU rasteriser with fixed-size
 * subgroups) takes the subgroup-broadcast kernel wherever the problem's alignment allows it (2-3x
 * the workgroup-memory tiling there, and 10-20x the naive kernel); otherwise the workgroup-memory
 * tiling; the naive plan one output per invocation.
 */
export function planMatmul(p: MatmulProblem, kernels: KernelChoice): KernelLaunch {
  if (kernels.plan === 'naive') return matmulNaiveLaunch(p);
  if (kernels.plan === 'software' && kernels.subgroupSize !== undefined) {
    const launch = matmulSubgroupLaunch(p, kernels.subgroupSize);
    if (launch) return launch;
  }
  return matmulLaunch(p, chooseMatmulTiling(p, kernels.plan));
}

export function matmulLaunch(p: MatmulProblem, tiling: MatmulTiling = chooseMatmulTiling(p)): KernelLaunch {
  checkTiling(tiling);
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
    uniforms: matmulUniforms(p),
    workgroups: workgroupCounts(p, tileM, tileN),
    describe: `${describeMatmul(p)} tiling ${tiling.name} (${tileM}x${tileN}x${tiling.tileK})`,
  };
}

/** The shader's limits on its overrides (see the comments at the top of shaders/matmul.wgsl). */
function checkTiling(t: MatmulTiling): void {
  const invocations = t.workgroupCols * t.workgroupRows;
  const tileM = t.workgroupRows * t.rowsPerInvocation;
  const tileN = t.workgroupCols * t.colsPerInvocation;
  const workgroupBytes = 4 * t.tileK * (tileM + (t.stageB ? tileN : 0));
  const problems = [
    [t.rowsPerInvocation % 4 === 0 && t.rowsPerInvocation <= 16, 'rowsPerInvocation must be 4, 8, 12 or 16'],
    [t.colsPerInvocation % 4 === 0 && t.colsPerInvocation <= 16, 'colsPerInvocation must be 4, 8, 12 or 16'],
    [invocations <= 256, 'at most 256 invocations per workgroup'],
    [workgroupBytes <= 16384, `tiles take ${workgroupBytes} bytes of workgroup memory; at most 16384`],
  ] as const;
  for (const [ok, rule] of problems) if (!ok) throw new Error(`matmul tiling ${t.name}: ${rule}`);
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

/** The uniform struct of the three matmul shaders. */
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
]);

export function matmulUniforms(p: MatmulProblem): ArrayBuffer {
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

function workgroupCounts(p: MatmulProblem, tileM: number, tileN: number): [number, number, number] {
  const counts: [number, number, number] = [ceilDiv(p.N, tileN), ceilDiv(p.M, tileM), p.batch ?? 1];
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
