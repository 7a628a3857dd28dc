// Launch arithmetic for the workgroup-memory tilings (shaders/conv2d/hardware/), the kernels a
// hardware GPU runs for every convolution, and any adapter for a convolution the subgroup kernels do
// not take: each pass is an implicit GEMM (see the comment at the top of each shader for the M, N,
// K mapping) whose reduction is split across workgroups when its output tiles alone are too few to
// fill a large GPU (split-sums.ts adds the splits). Tiles and splits follow the adapter's limits,
// or WebGPU's defaults without them. No GPU objects, so tile choice and workgroup coverage are
// testable on any machine.

import { FILL_WORKGROUPS, MAX_WORKGROUPS_PER_DIMENSION, spreadWorkgroups } from '../../webgpu/grid.ts';
import { DEFAULT_KERNEL_LIMITS, type KernelLimits } from '../../webgpu/kernel-plan.ts';
import { type KernelLaunch, ceilDiv } from '../../webgpu/launch.ts';
import { checkProblem, type Conv2dProblem, conv2dUniforms, shapes } from './problem.ts';
import { type Conv2dPassPlan, MAX_BINDING_BYTES, passOutputFloats, type SplitPass, sumSplitsLaunch } from './split-sums.ts';

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

/**
 * What a launch may be given beyond the problem: its tiles (else chosen for the shape), the
 * adapter's limits (else WebGPU's defaults), and its number of splits of the reduction (else enough
 * to reach FILL_WORKGROUPS; an explicit count is kept to whole k steps and the scratch cap).
 */
export interface HardwareLaunchOptions {
  tiles?: GemmTiles;
  limits?: KernelLimits;
  splits?: number;
}

export function workgroupInvocations(tiles: GemmTiles): number {
  return (tiles.tileM / tiles.threadM) * (tiles.tileN / tiles.threadN);
}

export function workgroupStorageBytes(tiles: GemmTiles): number {
  return tiles.tileK * (tiles.tileM + tiles.tileN) * 4;
}

function checkTiles(tiles: GemmTiles, kernel: string, loadMapping: 'column' | 'reduction', limits: KernelLimits): void {
  const { tileM, tileN, tileK, threadM, threadN } = tiles;
  const threads = workgroupInvocations(tiles);
  const bytes = workgroupStorageBytes(tiles);
  const problems: string[] = [];
  const wideColumns = kernel === 'conv2d_forward' || kernel === 'conv2d_backward_weight';
  if (![4, 8].includes(threadM) || ![4, 8, ...(wideColumns ? [16] : [])].includes(threadN)) {
    problems.push(`register blocks must be 4 or 8 each way${wideColumns ? ' (or 16 columns)' : ''}`);
  }
  if (tileM % threadM || tileN % threadN) problems.push(`tiles must be multiples of the ${threadM}x${threadN} register block`);
  if (threads > limits.maxComputeInvocationsPerWorkgroup) problems.push(`${threads} invocations exceed ${limits.maxComputeInvocationsPerWorkgroup}`);
  if (bytes > limits.maxComputeWorkgroupStorageSize) problems.push(`${bytes} bytes of workgroup memory exceed ${limits.maxComputeWorkgroupStorageSize}`);
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
 * The longest k step: each step costs two barriers, and 32 deep a 128x128 tile already spends them
 * on 32 rounds of multiply-adds, in 32 KiB of workgroup memory, so that several workgroups stay
 * resident on an H100 multiprocessor (228 KiB) beside their registers.
 */
const MAX_TILE_K = 32;

/**
 * Tiles for a GEMM of M rows by N columns. 128x128 tiles with 8x8 register blocks give 64
 * multiply-adds per 4 vec4 reads of workgroup memory and stage the fewest elements per
 * multiply-add; on lavapipe this runs about twice as fast as 64x64. A narrow side (the 27 columns
 * of the first layer's weight gradient, 64 output channels) takes the smallest tile that covers it,
 * so that less of the tile is padding. The k step is the longest power of two up to MAX_TILE_K
 * whose slices fit the adapter's workgroup memory: WebGPU's default 16 KiB holds 128x128 tiles 16
 * deep, the 32 KiB or more of lavapipe and of discrete GPUs (an H100 offers 48 KiB) 32 deep.
 * With at most 8 rows (the 3 input channels of the first layer's input gradient) the workgroup is
 * one row of 64 invocations across 256 columns.
 *
 * `stagedReduction` (the forward pass only, whose staging accepts any k step) is a reduction that
 * may be staged whole when short: the first layer's K = 27 in one 64-wide step of 28 rather than
 * two steps of 16 that pad 5, which measured 15-20% faster.
 */
function chooseTiles(M: number, N: number, limits: KernelLimits, stagedReduction?: number): GemmTiles {
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
  let tileK = MAX_TILE_K;
  while (tileK * (tileM + tileN) * 4 > limits.maxComputeWorkgroupStorageSize) tileK /= 2;
  // A 32-wide side takes 4x4 register blocks: with 8x8 a 64x32 tile (the first layer's weight
  // gradient) would be 32 invocations, one warp, too few to hide a multiprocessor's memory waits;
  // 4x4 keeps every such workgroup at 64 to 256 invocations, a multiple of a 32-deep k step.
  if (tileM === 32 || tileN === 32) return { tileM, tileN, tileK, threadM: 4, threadN: 4 };
  return { tileM, tileN, tileK, threadM, threadN: 8 };
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
 * The shortest split: writing and re-reading a partial result costs 8 bytes per output element,
 * which an H100 (about 10 fp32 multiply-adds per byte of memory bandwidth) would spend on some 80
 * multiply-adds; a split of 128 does more work than its partials cost.
 */
export const MIN_SPLIT_LENGTH = 128;

interface ReductionSplit {
  splits: number;
  /** k per split, a whole number of k steps; the last split takes what remains. */
  splitLength: number;
}

/** `steps` k steps in at most `count` splits of equal length (the last takes the remainder). */
function splitSteps(steps: number, tileK: number, count: number): ReductionSplit {
  const perSplit = ceilDiv(steps, count);
  return { splits: ceilDiv(steps, perSplit), splitLength: perSplit * tileK };
}

/**
 * The splits of a pass with `outputTiles` workgroups per split: at most the explicit count, or
 * enough to reach FILL_WORKGROUPS with none shorter than MIN_SPLIT_LENGTH. Never more than one
 * scratch binding holds (MAX_BINDING_BYTES, or less where the adapter binds less) or than
 * `dimensionSplits` (what the grid dimension carrying the splits has room for).
 */
function chooseSplits(p: Conv2dProblem, pass: SplitPass, reduction: number, tileK: number, outputTiles: number, dimensionSplits: number, options: HardwareLaunchOptions): ReductionSplit {
  const limits = options.limits ?? DEFAULT_KERNEL_LIMITS;
  const scratchBytes = Math.min(MAX_BINDING_BYTES, limits.maxStorageBufferBindingSize);
  const maxSplits = Math.min(Math.floor(scratchBytes / 4 / passOutputFloats(p, pass)), dimensionSplits);
  const steps = ceilDiv(reduction, tileK);
  if (options.splits !== undefined) return splitSteps(steps, tileK, Math.max(1, Math.min(options.splits, maxSplits)));
  const wanted = Math.max(1, Math.min(ceilDiv(FILL_WORKGROUPS, outputTiles), maxSplits, Math.floor(steps / ceilDiv(MIN_SPLIT_LENGTH, tileK))));
  const split = splitSteps(steps, tileK, wanted);
  // Equal splits may fall one short of `wanted` (576 steps in splits of 18 make 32, not 33); a
  // step less per split reaches it, and stays no shorter than the minimum since wanted allows it.
  const shorter = split.splits < wanted ? { splits: ceilDiv(steps, split.splitLength / tileK - 1), splitLength: split.splitLength - tileK } : split;
  return shorter.splits <= maxSplits ? shorter : split;
}

/** One launch, or the partial results and their sum. */
function passPlan(p: Conv2dProblem, pass: SplitPass, partials: KernelLaunch, splits: number): Conv2dPassPlan {
  if (splits === 1) return { launches: [partials], scratchFloats: 0, splits };
  return { launches: [partials, sumSplitsLaunch(p, splits, pass)], scratchFloats: splits * passOutputFloats(p, pass), splits };
}

function describeSplits(split: ReductionSplit): string {
  return split.splits === 1 ? '' : `, ${split.splits} splits of ${split.splitLength}`;
}

/**
 * Forward: one launch binding (x, weight, bias, y), or with splits (x, weight, bias, scratch) then
 * (scratch, y). When hasBias is false the bias binding is never read; bind any buffer there (e.g.
 * the weight).
 */
export function conv2dForwardLaunches(p: Conv2dProblem, options: HardwareLaunchOptions = {}): Conv2dPassPlan {
  const { Ho, Wo } = checkProblem(p);
  const limits = options.limits ?? DEFAULT_KERNEL_LIMITS;
  const columns = p.N * Ho * Wo;
  const reduction = p.Ci * p.KH * p.KW;
  const tiles = options.tiles ?? wideBlocks(chooseTiles(p.Co, columns, limits, reduction));
  checkTiles(tiles, 'conv2d_forward', 'column', limits);
  const rowTiles = ceilDiv(p.Co, tiles.tileM);
  const columnTiles = ceilDiv(columns, tiles.tileN);
  const split = chooseSplits(p, 'forward', reduction, tiles.tileK, rowTiles * columnTiles,
    Math.floor(MAX_WORKGROUPS_PER_DIMENSION / rowTiles), options);
  const spread = spreadWorkgroups(columnTiles);
  const partials: KernelLaunch = {
    kernel: 'conv2d_forward',
    constants: tileConstants(tiles, p),
    access: ['read', 'read', 'read', 'read_write'],
    // Split 0 adds the bias; the activation waits for the sum of the splits.
    uniforms: conv2dUniforms(split.splits === 1 ? p : { ...p, activation: 'none' }, split.splitLength),
    workgroups: [spread.x, rowTiles * split.splits, spread.z],
    describe: `${shapes(p)} bias ${p.hasBias} ${p.activation}; GEMM ${p.Co}x${columns}x${reduction} ` +
      `tiles ${describeTiles(tiles)}${describeSplits(split)}`,
  };
  return passPlan(p, 'forward', partials, split.splits);
}

/** Input gradient: one launch binding (dy, weight, dx), or with splits (dy, weight, scratch) then (scratch, dx). */
export function conv2dBackwardInputLaunches(p: Conv2dProblem, options: HardwareLaunchOptions = {}): Conv2dPassPlan {
  checkProblem(p);
  const limits = options.limits ?? DEFAULT_KERNEL_LIMITS;
  const columns = p.N * p.H * p.W;
  const reduction = p.Co * p.KH * p.KW;
  const tiles = options.tiles ?? chooseTiles(p.Ci, columns, limits);
  checkTiles(tiles, 'conv2d_backward_input', 'column', limits);
  const rowTiles = ceilDiv(p.Ci, tiles.tileM);
  const columnTiles = ceilDiv(columns, tiles.tileN);
  const split = chooseSplits(p, 'input', reduction, tiles.tileK, rowTiles * columnTiles,
    Math.floor(MAX_WORKGROUPS_PER_DIMENSION / rowTiles), options);
  const spread = spreadWorkgroups(columnTiles);
  const partials: KernelLaunch = {
    kernel: 'conv2d_backward_input',
    constants: tileConstants(tiles, p),
    access: ['read', 'read', 'read_write'],
    uniforms: conv2dUniforms(p, split.splitLength),
    workgroups: [spread.x, rowTiles * split.splits, spread.z],
    describe: `${shapes(p)}; dx GEMM ${p.Ci}x${columns}x${reduction} tiles ${describeTiles(tiles)}${describeSplits(split)}`,
  };
  return passPlan(p, 'input', partials, split.splits);
}

/** Weight gradient: one launch binding (x, dy, dw), or with splits (x, dy, scratch) then (scratch, dw). */
export function conv2dBackwardWeightLaunches(p: Conv2dProblem, options: HardwareLaunchOptions = {}): Conv2dPassPlan {
  const { Ho, Wo } = checkProblem(p);
  const limits = options.limits ?? DEFAULT_KERNEL_LIMITS;
  const columns = p.Ci * p.KH * p.KW;
  const reduction = p.N * Ho * Wo;
  const tiles = options.tiles ?? wideBlocks(chooseTiles(p.Co, columns, limits));
  checkTiles(tiles, 'conv2d_backward_weight', 'reduction', limits);
  const rowTiles = ceilDiv(p.Co, tiles.tileM);
  const columnTiles = ceilDiv(columns, tiles.tileN);
  const split = chooseSplits(p, 'weight', reduction, tiles.tileK, rowTiles * columnTiles, MAX_WORKGROUPS_PER_DIMENSION, options);
  const partials: KernelLaunch = {
    kernel: 'conv2d_backward_weight',
    constants: tileConstants(tiles, p),
    access: ['read', 'read', 'read_write'],
    uniforms: conv2dUniforms(p, split.splitLength),
    workgroups: [columnTiles, rowTiles, split.splits],
    describe: `${shapes(p)}; dw GEMM ${p.Co}x${columns}x${reduction} tiles ${describeTiles(tiles)}${describeSplits(split)}`,
  };
  return passPlan(p, 'weight', partials, split.splits);
}
