// Launch arithmetic for the convolution kernels: from a problem description to the KernelLaunch
// of each pass, with no GPU objects, so tile choice and workgroup coverage are testable on any
// machine. The tiled passes are implicit GEMMs (see the comment at the top of each shader for the
// M, N, K mapping); the naive passes compute one output element per invocation and are the
// benchmark baseline and the debugging fallback.

import { type KernelLaunch, ceilDiv, packUniforms } from '../webgpu/launch.ts';

export interface Conv2dProblem {
  N: number;
  Ci: number;
  H: number;
  W: number;
  Co: number;
  KH: number;
  KW: number;
  stride: number;
  pad: number;
  hasBias: boolean;
  activation: 'none' | 'leaky_relu';
  /** Negative slope of the leaky ReLU; ignored when activation is 'none'. */
  slope: number;
}

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
/** The largest storage binding lavapipe accepts, and so the cap on the split-K scratch buffer. */
export const MAX_BINDING_BYTES = 128 * 1024 * 1024;
export const MAX_WORKGROUPS_PER_DIMENSION = 65535;
/** Invocations per workgroup of the one-element-per-invocation kernels. */
export const ELEMENTWISE_WORKGROUP = 64;

export function conv2dOutputSize(p: Conv2dProblem): { Ho: number; Wo: number } {
  return {
    Ho: Math.floor((p.H + 2 * p.pad - p.KH) / p.stride) + 1,
    Wo: Math.floor((p.W + 2 * p.pad - p.KW) / p.stride) + 1,
  };
}

export function checkProblem(p: Conv2dProblem): { Ho: number; Wo: number } {
  for (const name of ['N', 'Ci', 'H', 'W', 'Co', 'KH', 'KW', 'stride'] as const) {
    if (!Number.isInteger(p[name]) || p[name] < 1) throw new Error(`conv2d: ${name} must be a positive integer, got ${p[name]}`);
  }
  if (!Number.isInteger(p.pad) || p.pad < 0) throw new Error(`conv2d: pad must be a non-negative integer, got ${p.pad}`);
  const size = conv2dOutputSize(p);
  if (size.Ho < 1 || size.Wo < 1) {
    throw new Error(`conv2d: a ${p.KH}x${p.KW} kernel with pad ${p.pad} does not fit a ${p.H}x${p.W} input`);
  }
  return size;
}

export function shapes(p: Conv2dProblem): string {
  const { Ho, Wo } = conv2dOutputSize(p);
  return `x[${p.N},${p.Ci},${p.H},${p.W}] weight[${p.Co},${p.Ci},${p.KH},${p.KW}] y[${p.N},${p.Co},${Ho},${Wo}] ` +
    `stride ${p.stride} pad ${p.pad}`;
}

/**
 * Spreads `count` workgroups over x and z so that neither exceeds 65535; the shaders rebuild the
 * linear index as workgroup_id.x + workgroup_id.z * num_workgroups.x and skip what lies past count.
 */
export function spreadWorkgroups(count: number): { x: number; z: number } {
  const z = ceilDiv(count, MAX_WORKGROUPS_PER_DIMENSION);
  return { x: ceilDiv(count, z), z };
}

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

/** The uniform struct Conv2dParams shared by the tiled conv shaders. */
export function tiledUniforms(p: Conv2dProblem, splitLength = 0): ArrayBuffer {
  const { Ho, Wo } = conv2dOutputSize(p);
  return packUniforms([p.N, p.Ci, p.H, p.W, p.Co, Ho, Wo, p.pad, p.hasBias ? 1 : 0,
    p.activation === 'leaky_relu' ? 1 : 0, { f32: p.slope }, splitLength]);
}

/** The uniform struct Conv2dNaiveParams; the backward shaders declare its first eleven fields. */
function naiveUniforms(p: Conv2dProblem): ArrayBuffer {
  const { Ho, Wo } = conv2dOutputSize(p);
  return packUniforms([p.N, p.Ci, p.H, p.W, p.Co, Ho, Wo, p.KH, p.KW, p.stride, p.pad, p.hasBias ? 1 : 0,
    p.activation === 'leaky_relu' ? 1 : 0, { f32: p.slope }]);
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
    uniforms: tiledUniforms(p),
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
    uniforms: tiledUniforms(p),
    workgroups: [spread.x, ceilDiv(p.Ci, chosen.tileM), spread.z],
    describe: `${shapes(p)}; dx GEMM ${p.Ci}x${columns}x${p.Co * p.KH * p.KW} ` +
      `tiles ${describeTiles(chosen)}`,
  };
}

/** Invocations per workgroup of the subgroup kernel, at most (fewer where the layer has fewer pixel blocks). */
const SUBGROUP_WORKGROUP_SIZE = 64;

/**
 * shaders/conv2d_subgroup.wgsl (forward, or the input gradient) for subgroups of `lanes`
 * invocations, or undefined where it does not apply: it takes the model's 3x3, stride 1, pad 1
 * convolutions of rows a multiple of 4 wide. Forward binds x, weight, bias, y; the input gradient
 * binds dy, weight, dx.
 */
export function conv2dSubgroupLaunch(
  p: Conv2dProblem,
  lanes: number,
  pass: 'forward' | 'input',
  blocking: { rowsPerLane?: number; pixVec4s?: number; pixRows?: number } = {},
): KernelLaunch | undefined {
  checkProblem(p);
  if (p.KH !== 3 || p.KW !== 3 || p.stride !== 1 || p.pad !== 1 || p.W % 4 !== 0 || SUBGROUP_WORKGROUP_SIZE % lanes !== 0) {
    return undefined;
  }
  const inputGrad = pass === 'input';
  const rows = inputGrad ? p.Ci : p.Co;
  // A lane's block is 64 accumulators: 16 rows x 2x8 pixels for the forward (each weight broadcast
  // then serves 16 pixels: 26 against 22 GFLOP/s at layer 3 on lavapipe, as fast or a little ahead at
  // layers 2, 4 and 5), 32 rows x 8 pixels for the input gradient (whose vec4 weight loads need 4
  // rows a lane), and 32 rows x 2x4 pixels on 4-wide rows.
  const pixVec4s = blocking.pixVec4s ?? (p.W % 8 === 0 ? 2 : 1);
  const wideBlock = !inputGrad && pixVec4s === 2 && p.H % 2 === 0;
  const rowsPerLane = blocking.rowsPerLane ?? (rows <= lanes ? 1 : rows <= 2 * lanes || wideBlock ? 2 : 4);
  const pixRows = blocking.pixRows ?? ((pixVec4s === 1 || wideBlock) && p.H % 2 === 0 ? 2 : 1);
  if (p.W % (4 * pixVec4s) !== 0 || p.H % pixRows !== 0) return undefined;
  const blocks = p.N * (p.H / pixRows) * (p.W / (4 * pixVec4s));
  const workgroupSize = Math.min(SUBGROUP_WORKGROUP_SIZE, ceilDiv(blocks, lanes) * lanes);
  const spread = spreadWorkgroups(ceilDiv(blocks, workgroupSize));
  const band = lanes * rowsPerLane;
  return {
    kernel: 'conv2d_subgroup',
    unroll: {
      LANES: lanes,
      ROWS_PER_LANE: rowsPerLane,
      PIX_VEC4S: pixVec4s,
      PIX_ROWS: pixRows,
      WEIGHT_VEC4: inputGrad && rowsPerLane === 4 && rows % 4 === 0 ? 1 : 0,
      INPUT_GRAD: inputGrad ? 1 : 0,
      WORKGROUP_SIZE: workgroupSize,
    },
    access: inputGrad ? ['read', 'read', 'read_write'] : ['read', 'read', 'read', 'read_write'],
    uniforms: tiledUniforms(p),
    workgroups: [spread.x, ceilDiv(rows, band), spread.z],
    describe: `${shapes(p)}${inputGrad ? '; dx' : ` bias ${p.hasBias} ${p.activation}; y`} by subgroups ` +
      `(${band} rows x ${pixRows}x${4 * pixVec4s} pixels per subgroup lane)`,
  };
}

export interface Conv2dBackwardWeightPlan {
  /**
   * The launches in order. With one split there is one launch, binding (x, dy, dw). With more,
   * the first binds (x, dy, scratch) and writes the partial sums, the second binds (scratch, dw)
   * and adds them.
   */
  launches: KernelLaunch[];
  /** Floats of scratch the partial sums need: splits * Co * Ci * KH * KW, or 0 with one split. */
  scratchFloats: number;
  splits: number;
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
    uniforms: tiledUniforms(p, splitLength),
    workgroups: [ceilDiv(columns, chosen.tileN), ceilDiv(p.Co, chosen.tileM), splits],
    describe: `${shapes(p)}; ${gemm}`,
  };
  if (splits === 1) return { launches: [partials], scratchFloats: 0, splits };
  const sum = sumSplitsLaunch(p, splits);
  return { launches: [partials, sum], scratchFloats: splits * count, splits };
}

/** Pixel blocks (2 rows x 8 pixels) a workgroup of the narrow forward kernel walks with one load of its weights. */
const NARROW_BLOCKS = 8;
/** Output channels per lane of the narrow forward kernel: 64 per subgroup, the first layer's all. */
const NARROW_CO_PER_LANE = 8;

/**
 * shaders/conv2d_forward_narrow.wgsl for subgroups of `lanes` invocations: the forward of a 3x3,
 * stride 1, pad 1 convolution of at most 4 input channels (the first layer), rows a multiple of 8
 * wide and an even height; undefined elsewhere. Binds x, weight, bias, y.
 */
export function conv2dForwardNarrowLaunch(p: Conv2dProblem, lanes: number): KernelLaunch | undefined {
  checkProblem(p);
  if (p.KH !== 3 || p.KW !== 3 || p.stride !== 1 || p.pad !== 1 || p.Ci > 4 || p.W % 8 !== 0 || p.H % 2 !== 0) return undefined;
  const blocks = p.N * (p.H / 2) * (p.W / 8);
  const spread = spreadWorkgroups(ceilDiv(blocks, NARROW_BLOCKS));
  const band = lanes * NARROW_CO_PER_LANE;
  return {
    kernel: 'conv2d_forward_narrow',
    unroll: { LANES: lanes, IN_CHANNELS: p.Ci, CO_PER_LANE: NARROW_CO_PER_LANE, BLOCKS: NARROW_BLOCKS },
    access: ['read', 'read', 'read', 'read_write'],
    uniforms: tiledUniforms(p),
    workgroups: [spread.x, ceilDiv(p.Co, band), spread.z],
    describe: `${shapes(p)} bias ${p.hasBias} ${p.activation}; y by subgroups (${band} output channels a subgroup, ` +
      `${NARROW_BLOCKS} blocks of 2x8 pixels a workgroup)`,
  };
}

/**
 * shaders/conv2d_backward_input_narrow.wgsl for subgroups of `lanes` (at least 8) invocations:
 * the input gradient of a 3x3, stride 1, pad 1 convolution of at most 4 input channels (the first
 * layer), rows a multiple of 8 wide; undefined elsewhere. A lane's block is 4 image rows (2 or 1
 * where the height needs): on lavapipe at the first layer, as fast as 8 rows with half the code,
 * and a little ahead of 2. Binds dy, weight, dx.
 */
export function conv2dBackwardInputNarrowLaunch(p: Conv2dProblem, lanes: number, pixRows?: number): KernelLaunch | undefined {
  checkProblem(p);
  if (p.KH !== 3 || p.KW !== 3 || p.stride !== 1 || p.pad !== 1 || p.Ci > 4 || p.W % 8 !== 0 || lanes < 8 ||
    SUBGROUP_WORKGROUP_SIZE % lanes !== 0) {
    return undefined;
  }
  const rows = pixRows ?? [4, 2, 1].find((r) => p.H % r === 0)!;
  if (p.H % rows !== 0) return undefined;
  const blocks = p.N * (p.H / rows) * (p.W / 8);
  const workgroupSize = Math.min(SUBGROUP_WORKGROUP_SIZE, ceilDiv(blocks, lanes) * lanes);
  const spread = spreadWorkgroups(ceilDiv(blocks, workgroupSize));
  return {
    kernel: 'conv2d_backward_input_narrow',
    unroll: { LANES: lanes, OUT_CHANNELS: p.Ci, PIX_ROWS: rows, WORKGROUP_SIZE: workgroupSize },
    access: ['read', 'read', 'read_write'],
    uniforms: tiledUniforms(p),
    workgroups: [spread.x, 1, spread.z],
    describe: `${shapes(p)}; dx by subgroups (every channel of ${rows}x8 pixels per lane)`,
  };
}

/** conv2d_sum_splits: adds `splits` partial weight gradients (binds scratch, dw). */
export function sumSplitsLaunch(p: Conv2dProblem, splits: number): KernelLaunch {
  const count = p.Co * p.Ci * p.KH * p.KW;
  const spread = spreadWorkgroups(ceilDiv(count, ELEMENTWISE_WORKGROUP));
  return {
    kernel: 'conv2d_sum_splits',
    access: ['read', 'read_write'],
    uniforms: packUniforms([count, splits]),
    workgroups: [spread.x, 1, spread.z],
    describe: `partials[${splits},${count}] dw[${p.Co},${p.Ci},${p.KH},${p.KW}]`,
  };
}

function naiveLaunch(kernel: string, p: Conv2dProblem, outputs: number, access: KernelLaunch['access']): KernelLaunch {
  checkProblem(p);
  const spread = spreadWorkgroups(ceilDiv(outputs, ELEMENTWISE_WORKGROUP));
  return { kernel, access, uniforms: naiveUniforms(p), workgroups: [spread.x, 1, spread.z], describe: shapes(p) };
}

/** Naive forward: binds x, weight, bias, y, as conv2dForwardLaunch. */
export function conv2dNaiveForwardLaunch(p: Conv2dProblem): KernelLaunch {
  const { Ho, Wo } = conv2dOutputSize(p);
  return naiveLaunch('conv2d_naive_forward', p, p.N * p.Co * Ho * Wo, ['read', 'read', 'read', 'read_write']);
}

/** Naive input gradient: binds dy, weight, dx, as conv2dBackwardInputLaunch. */
export function conv2dNaiveBackwardInputLaunch(p: Conv2dProblem): KernelLaunch {
  return naiveLaunch('conv2d_naive_backward_input', p, p.N * p.Ci * p.H * p.W, ['read', 'read', 'read_write']);
}

/** Naive weight gradient, one launch with no scratch: binds x, dy, dw. */
export function conv2dNaiveBackwardWeightLaunch(p: Conv2dProblem): KernelLaunch {
  return naiveLaunch('conv2d_naive_backward_weight', p, p.Co * p.Ci * p.KH * p.KW, ['read', 'read', 'read_write']);
}
