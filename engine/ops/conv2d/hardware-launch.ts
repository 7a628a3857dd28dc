// Launch arithmetic for the workgroup-memory tilings (shaders/conv2d/hardware/), the kernels a
// hardware GPU runs for every convolution, and any adapter for a convolution the subgroup kernels do
// not take: each pass is an implicit GEMM (see the comment at the top of each shader for the M, N,
// K mapping). No GPU objects, so tile choice and workgroup coverage are testable on any machine.

import { MAX_WORKGROUPS_PER_DIMENSION, spreadWorkgroups } from '../../webgpu/grid.ts';
import { type KernelLaunch, ceilDiv } from '../../webgpu/launch.ts';
import { checkProblem, type Conv2dProblem, conv2dUniforms, shapes } from './problem.ts';
import { type Conv2dBackwardWeightPlan, MAX_BINDING_BYTES, sumSplitsLaunch } from './split-sums.ts';

/**
 * Tile of the output matrix per workgroup, the reduction step staged per barrier, and the register
 * block per invocation (4 or 8 each way); the workgroup is (tileN / threadN) x (tileM / threadM).
 */
export interface GemmTiles {
  tileM: number;
  tileN: number;
  tileK: number;
  threadM: number;
  threadN: number;
}
/** WebGPU's default maxComputeWorkgroupStorageSize, which every adapter offers. */
export const WORKGROUP_STORAGE_BYTES = 16384;

export function workgroupInvocations(tiles: GemmTiles): number {
  return (tiles.tileM / tiles.threadM) * (tiles.tileN / tiles.threadN);
}

function checkTiles(tiles: GemmTiles, kernel: string, loadMapping: 'column' | 'reduction'): void {
  const { tileM, tileN, tileK, threadM, threadN } = tiles;
  const threads = workgroupInvocations(tiles);
  const problems: string[] = [];
  const wideColumns = kernel === 'conv2d_forward' || kernel === 'conv2d_backward_weight';
  if (![4, 8].includes(threadM) || ![4, 8, ...(wideColumns ? [16] : [])].includes(threadN)) {
    problems.push(`register blocks must be 4 or 8 each way${wideColumns ? ' (or 16 columns)' : ''}`);
  }
  if (tileM % threadM || tileN % threadN) problems.push(`tiles must be multiples of the ${threadM}x${threadN} register block`);
  if (threads > 256) problems.push(`${threads} invocations exceed 256`);
  if (tileK * (tileM + tileN) * 4 > WORKGROUP_STORAGE_BYTES) problems.push('workgroup memory exceeds 16 KiB');
  // Each invocation stages one fixed group of 4 columns (or one fixed reduction index) of B.
  if (loadMapping === 'column' && threads % (tileN / 4)) problems.push(`${threads} invocations are not a multiple of tileN / 4`);
  if (loadMapping === 'reduction' && threads % tileK) problems.push(`${threads} invocations are not a multiple of tileK`);
  if (problems.length) throw new Error(`${kernel}: tiles ${describeTiles(tiles)}: ${problems.join('; ')}`);
}

function describeTiles(t: GemmTiles): string {
  return `${t.tileM}x${t.tileN}x${t.tileK} by ${t.threadM}x${t.threadN}`;
}

function tileConstants(tiles: GemmTiles, p: Conv2dProblem): Record<string, number> {
  return { TILE_M: tiles.tileM, TILE_N: tiles.tileN, TILE_K: tiles.tileK, THREAD_M: tiles.threadM, THREAD_N: tiles.threadN,
    KERNEL_H: p.KH, KERNEL_W: p.KW, STRIDE: p.stride };
}


/**
 * Tiles for a GEMM of M rows by N columns. 128x128 tiles with 8x8 register blocks give 64
 * multiply-adds per 4 vec4 reads of workgroup memory and stage the fewest elements per
 * multiply-add; on lavapipe this runs about twice as fast as 64x64. A narrow side (the 27 columns
 * of the first layer's weight gradient, 64 output channels) takes the smallest tile that covers it,
 * so that less of the tile is padding. The k step is the longest power of two up to 32 whose
 * slices fit workgroup memory: lavapipe runs a workgroup's SIMD batches one after another up to
 * each barrier, so fewer barriers per multiply-add measured 10-40% faster than k steps of 8.
 * With at most 8 rows (the 3 input channels of the first layer's input gradient) the workgroup is
 * one row of 64 invocations across 256 columns.
 *
 * `stagedReduction` (the forward pass only, whose staging accepts any k step) is a reduction that
 * may be staged whole when short: the first layer's K = 27 in one 64-wide step of 28 rather than
 * two steps of 16 that pad 5, which measured 15-20% faster.
 */
function chooseTiles(M: number, N: number, stagedReduction?: number): GemmTiles {
  if (M <= 8) {
    const tileM = M <= 4 ? 4 : 8;
    return { tileM, tileN: 256, tileK: 8, threadM: tileM, threadN: 4 };
  }
  const side = (extent: number) => (extent <= 32 ? 32 : extent <= 64 ? 64 : 128);
  const tileM = side(M);
  let tileN = side(N);
  const threadM = tileM === 32 ? 4 : 8;
  if (stagedReduction !== undefined && stagedReduction <= 32 && tileM <= 64 && tileN === 128) {
    tileN = 64;
    return { tileM, tileN, tileK: 4 * Math.ceil(stagedReduction / 4), threadM, threadN: 8 };
  }
  let tileK = 32;
  while (tileK * (tileM + tileN) * 4 > WORKGROUP_STORAGE_BYTES) tileK /= 2;
  // A 32-wide side keeps 8 columns per invocation unless both are 32 wide, where 16 invocations
  // would not divide a k step of 32 (the weight gradient stages one k per invocation).
  return { tileM, tileN, tileK, threadM, threadN: tileN === 32 && tileM === 32 ? 4 : 8 };
}

/**
 * The forward and weight-gradient shaders also take 8x16 blocks (the matmul's): 128 multiply-adds
 * per 6 vec4 reads instead of 64 per 4, which measured 10-25% faster for the forward on the 128x128
 * tiles of layers 2-6, and ahead in 10 of 12 back-to-back pairs (about 10-20%) for the weight
 * gradient of layers 3 and 4.
 */
function wideBlocks(tiles: GemmTiles): GemmTiles {
  return tiles.tileM === 128 && tiles.tileN === 128 ? { ...tiles, threadN: 16 } : tiles;
}

/**
 * Forward: binds x, weight, bias, y. When hasBias is false the bias binding is never read; bind
 * any buffer there (e.g. the weight).
 */
export function conv2dForwardLaunch(p: Conv2dProblem, tiles?: GemmTiles): KernelLaunch {
  const { Ho, Wo } = checkProblem(p);
  const columns = p.N * Ho * Wo;
  const chosen = tiles ?? wideBlocks(chooseTiles(p.Co, columns, p.Ci * p.KH * p.KW));
  checkTiles(chosen, 'conv2d_forward', 'column');
  const spread = spreadWorkgroups(ceilDiv(columns, chosen.tileN));
  return {
    kernel: 'conv2d_forward',
    constants: tileConstants(chosen, p),
    access: ['read', 'read', 'read', 'read_write'],
    uniforms: conv2dUniforms(p),
    workgroups: [spread.x, ceilDiv(p.Co, chosen.tileM), spread.z],
    describe: `${shapes(p)} bias ${p.hasBias} ${p.activation}; GEMM ${p.Co}x${columns}x${p.Ci * p.KH * p.KW} ` +
      `tiles ${describeTiles(chosen)}`,
  };
}

/** Input gradient: binds dy, weight, dx (dx overwritten). */
export function conv2dBackwardInputLaunch(p: Conv2dProblem, tiles?: GemmTiles): KernelLaunch {
  checkProblem(p);
  const columns = p.N * p.H * p.W;
  const chosen = tiles ?? chooseTiles(p.Ci, columns);
  checkTiles(chosen, 'conv2d_backward_input', 'column');
  const spread = spreadWorkgroups(ceilDiv(columns, chosen.tileN));
  return {
    kernel: 'conv2d_backward_input',
    constants: tileConstants(chosen, p),
    access: ['read', 'read', 'read_write'],
    uniforms: conv2dUniforms(p),
    workgroups: [spread.x, ceilDiv(p.Ci, chosen.tileM), spread.z],
    describe: `${shapes(p)}; dx GEMM ${p.Ci}x${columns}x${p.Co * p.KH * p.KW} ` +
      `tiles ${describeTiles(chosen)}`,
  };
}

/**
 * Enough workgroups to fill a large GPU (an H100 has 132 multiprocessors) when the output tiles
 * alone are too few, without splitting the reduction below MIN_SPLIT_LENGTH, where writing and
 * re-reading a partial tile would cost about as much as computing it.
 */
const TARGET_WORKGROUPS = 256;
const MIN_SPLIT_LENGTH = 512;

/** Weight gradient: split-K implicit GEMM, then a deterministic sum of the splits. */
export function conv2dBackwardWeightLaunches(p: Conv2dProblem, tiles?: GemmTiles): Conv2dBackwardWeightPlan {
  const { Ho, Wo } = checkProblem(p);
  const columns = p.Ci * p.KH * p.KW;
  const reduction = p.N * Ho * Wo;
  const chosen = tiles ?? wideBlocks(chooseTiles(p.Co, columns));
  checkTiles(chosen, 'conv2d_backward_weight', 'reduction');
  const outputTiles = ceilDiv(p.Co, chosen.tileM) * ceilDiv(columns, chosen.tileN);
  const count = p.Co * columns;
  const wanted = Math.min(
    ceilDiv(TARGET_WORKGROUPS, outputTiles),
    Math.max(1, Math.floor(reduction / MIN_SPLIT_LENGTH)),
    Math.max(1, Math.floor(MAX_BINDING_BYTES / 4 / count)),
    MAX_WORKGROUPS_PER_DIMENSION,
  );
  const splitLength = ceilDiv(ceilDiv(reduction, wanted), chosen.tileK) * chosen.tileK;
  const splits = ceilDiv(reduction, splitLength);
  const gemm = `dw GEMM ${p.Co}x${columns}x${reduction} tiles ${describeTiles(chosen)} ` +
    `${splits} splits of ${splitLength}`;
  const partials: KernelLaunch = {
    kernel: 'conv2d_backward_weight',
    constants: tileConstants(chosen, p),
    access: ['read', 'read', 'read_write'],
    uniforms: conv2dUniforms(p, splitLength),
    workgroups: [ceilDiv(columns, chosen.tileN), ceilDiv(p.Co, chosen.tileM), splits],
    describe: `${shapes(p)}; ${gemm}`,
  };
  if (splits === 1) return { launches: [partials], scratchFloats: 0, splits };
  const sum = sumSplitsLaunch(p, splits);
  return { launches: [partials, sum], scratchFloats: splits * count, splits };
}

