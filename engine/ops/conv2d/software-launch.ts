// Launch arithmetic for the forward and input-gradient kernels of CPU rasterisers (lavapipe,
// SwiftShader: software adapters with fixed-size subgroups), shaders/conv2d/software/: lanes share
// values by subgroup broadcast instead of workgroup memory. They take only the model's 3x3, stride
// 1, pad 1 convolutions and answer undefined elsewhere. No GPU objects.

import { spreadWorkgroups } from '../../webgpu/grid.ts';
import { type KernelLaunch, ceilDiv } from '../../webgpu/launch.ts';
import { checkProblem, type Conv2dProblem, conv2dUniforms, is3x3Same, shapes } from './problem.ts';

/** Invocations per workgroup of the subgroup kernel, at most (fewer where the layer has fewer pixel blocks). */
const SUBGROUP_WORKGROUP_SIZE = 64;

/**
 * shaders/conv2d/software/conv2d_subgroup.wgsl (forward, or the input gradient) for subgroups of `lanes`
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
  if (!is3x3Same(p) || p.W % 4 !== 0 || SUBGROUP_WORKGROUP_SIZE % lanes !== 0) {
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
    uniforms: conv2dUniforms(p),
    workgroups: [spread.x, ceilDiv(rows, band), spread.z],
    describe: `${shapes(p)}${inputGrad ? '; dx' : ` bias ${p.hasBias} ${p.activation}; y`} by subgroups ` +
      `(${band} rows x ${pixRows}x${4 * pixVec4s} pixels per subgroup lane)`,
  };
}

/** Pixel blocks (2 rows x 8 pixels) a workgroup of the narrow forward kernel walks with one load of its weights. */
const NARROW_BLOCKS = 8;
/** Output channels per lane of the narrow forward kernel: 64 per subgroup, the first layer's all. */
const NARROW_CO_PER_LANE = 8;

/**
 * shaders/conv2d/software/conv2d_forward_narrow.wgsl for subgroups of `lanes` invocations: the forward of a 3x3,
 * stride 1, pad 1 convolution of at most 4 input channels (the first layer), rows a multiple of 8
 * wide and an even height; undefined elsewhere. Binds x, weight, bias, y.
 */
export function conv2dForwardNarrowLaunch(p: Conv2dProblem, lanes: number): KernelLaunch | undefined {
  checkProblem(p);
  if (!is3x3Same(p) || p.Ci > 4 || p.W % 8 !== 0 || p.H % 2 !== 0) return undefined;
  const blocks = p.N * (p.H / 2) * (p.W / 8);
  const spread = spreadWorkgroups(ceilDiv(blocks, NARROW_BLOCKS));
  const band = lanes * NARROW_CO_PER_LANE;
  return {
    kernel: 'conv2d_forward_narrow',
    unroll: { LANES: lanes, IN_CHANNELS: p.Ci, CO_PER_LANE: NARROW_CO_PER_LANE, BLOCKS: NARROW_BLOCKS },
    access: ['read', 'read', 'read', 'read_write'],
    uniforms: conv2dUniforms(p),
    workgroups: [spread.x, ceilDiv(p.Co, band), spread.z],
    describe: `${shapes(p)} bias ${p.hasBias} ${p.activation}; y by subgroups (${band} output channels a subgroup, ` +
      `${NARROW_BLOCKS} blocks of 2x8 pixels a workgroup)`,
  };
}

/**
 * shaders/conv2d/software/conv2d_backward_input_narrow.wgsl for subgroups of `lanes` (at least 8) invocations:
 * the input gradient of a 3x3, stride 1, pad 1 convolution of at most 4 input channels (the first
 * layer), rows a multiple of 8 wide; undefined elsewhere. A lane's block is 4 image rows (2 or 1
 * where the height needs): on lavapipe at the first layer, as fast as 8 rows with half the code,
 * and a little ahead of 2. Binds dy, weight, dx.
 */
export function conv2dBackwardInputNarrowLaunch(p: Conv2dProblem, lanes: number, pixRows?: number): KernelLaunch | undefined {
  checkProblem(p);
  if (!is3x3Same(p) || p.Ci > 4 || p.W % 8 !== 0 || lanes < 8 ||
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
    uniforms: conv2dUniforms(p),
    workgroups: [spread.x, 1, spread.z],
    describe: `${shapes(p)}; dx by subgroups (every channel of ${rows}x8 pixels per lane)`,
  };
}
