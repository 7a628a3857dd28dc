// Launch arithmetic for shaders/conv2d/software/conv2d_backward_weight_subgroup.wgsl, the weight gradient of the
// model's 3x3 convolutions on CPU rasterisers: blocking, the split of the reduction over image rows,
// and the sum of the splits, with no GPU objects.

import { MAX_WORKGROUPS_PER_DIMENSION } from '../../webgpu/grid.ts';
import { type KernelLaunch, ceilDiv } from '../../webgpu/launch.ts';
import { checkProblem, type Conv2dProblem, conv2dUniforms, is3x3Same, shapes } from './problem.ts';
import { type Conv2dPassPlan, MAX_BINDING_BYTES, sumSplitsLaunch } from './split-sums.ts';

/**
 * Input channels per subgroup and output channels per lane. 8 x 4 gives 288 accumulators per
 * invocation and 7 vec4 loads per 1152 multiply-adds (8 x 8 and 16 x 4 were no clear winners in
 * back-to-back runs on lavapipe); the first layer's 3 input channels take all 64 output channels
 * in one subgroup instead (8 per lane), so that no lane idles.
 */
const CI_BLOCK = 8;
const CO_PER_LANE = 4;
const NARROW_CO_PER_LANE = 8;

/**
 * Workgroups wanted: enough to keep every CPU thread of the rasteriser busy to the end, where the
 * (co band, ci block) pairs alone are too few. A split shorter than MIN_SPLIT_PIXELS would spend
 * about as long writing its partial sums as computing them.
 */
const TARGET_WORKGROUPS = 64;
const MIN_SPLIT_PIXELS = 2048;

/**
 * The subgroup weight-gradient kernel for subgroups of `lanes` invocations, or undefined where it
 * does not apply: it takes 3x3, stride 1, pad 1 convolutions of rows a multiple of 4 wide. The
 * plan binds as conv2dBackwardWeightLaunches': (x, dy, dw), or (x, dy, scratch) then (scratch, dw).
 */
export function conv2dBackwardWeightSubgroupLaunches(p: Conv2dProblem, lanes: number): Conv2dPassPlan | undefined {
  checkProblem(p);
  if (!is3x3Same(p) || p.W % 4 !== 0) return undefined;
  const ciBlock = Math.min(p.Ci, CI_BLOCK);
  const coPerLane = p.Ci < CI_BLOCK ? NARROW_CO_PER_LANE : CO_PER_LANE;
  const ciBlocks = ceilDiv(p.Ci, ciBlock);
  const coBands = ceilDiv(p.Co, lanes * coPerLane);
  if (ciBlocks > MAX_WORKGROUPS_PER_DIMENSION || coBands > MAX_WORKGROUPS_PER_DIMENSION) return undefined;

  const count = p.Co * p.Ci * 9;
  const rows = p.N * p.H;
  const wanted = Math.min(
    ceilDiv(TARGET_WORKGROUPS, ciBlocks * coBands),
    Math.max(1, Math.floor((rows * p.W) / MIN_SPLIT_PIXELS)),
    Math.max(1, Math.floor(MAX_BINDING_BYTES / 4 / count)),
    MAX_WORKGROUPS_PER_DIMENSION,
  );
  const splitLength = ceilDiv(rows, wanted);
  const splits = ceilDiv(rows, splitLength);
  const partials: KernelLaunch = {
    kernel: 'conv2d_backward_weight_subgroup',
    unroll: {
      LANES: lanes,
      CO_PER_LANE: coPerLane,
      CI_BLOCK: ciBlock,
      ROW_VEC4S: p.W / 4,
      STORE_VEC4: p.Ci % ciBlock === 0 && ciBlock % 4 === 0 ? 1 : 0,
    },
    access: ['read', 'read', 'read_write'],
    uniforms: conv2dUniforms(p, splitLength),
    workgroups: [ciBlocks, coBands, splits],
    describe: `${shapes(p)}; dw by subgroups (${ciBlock} input x ${lanes * coPerLane} output channels per subgroup, ` +
      `${splits} splits of ${splitLength} image rows)`,
  };
  if (splits === 1) return { launches: [partials], scratchFloats: 0, splits };
  return { launches: [partials, sumSplitsLaunch(p, splits, 'weight')], scratchFloats: splits * count, splits };
}
