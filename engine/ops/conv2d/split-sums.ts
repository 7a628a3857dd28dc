// The split reduction of the convolution passes, shared by the hardware and the software kernels:
// the plan's shape, the cap on its scratch buffer, and the deterministic sum of the partial results
// (shaders/conv2d/conv2d_sum_splits.wgsl). No GPU objects.

import { spreadWorkgroups, SPREAD_WORKGROUP_SIZE } from '../../webgpu/grid.ts';
import { type KernelLaunch, ceilDiv, defineUniformStruct } from '../../webgpu/launch.ts';
import { conv2dOutputSize, type Conv2dProblem } from './problem.ts';
import type { SplitPlan } from '../../webgpu/split-plan.ts';

/**
 * WebGPU's default maxStorageBufferBindingSize (and the most lavapipe binds): the cap on a split
 * pass's scratch buffer on any adapter, since a pass whose partial results would not fit it has
 * outputs enough to fill a GPU without splitting its reduction.
 */
export const MAX_BINDING_BYTES = 128 * 1024 * 1024;

/**
 * A pass's launches (engine/webgpu/split-plan.ts): one, or the partial results then their sum,
 * binding (scratch, output); scratchFloats is splits times the output's size.
 */
export interface Conv2dPassPlan extends SplitPlan {
  splits: number;
}

/** The pass whose splits are summed: it sets the output's size, and the forward's activation follows the sum. */
export type SplitPass = 'forward' | 'input' | 'weight';

/** Floats of a pass's output: y [N, Co, Ho, Wo], dx [N, Ci, H, W] or dw [Co, Ci, KH, KW]. */
export function passOutputFloats(p: Conv2dProblem, pass: SplitPass): number {
  const { Ho, Wo } = conv2dOutputSize(p);
  if (pass === 'forward') return p.N * p.Co * Ho * Wo;
  if (pass === 'input') return p.N * p.Ci * p.H * p.W;
  return p.Co * p.Ci * p.KH * p.KW;
}

const SumSplitsParams = defineUniformStruct('SumSplitsParams', [
  ['count', 'u32'],
  ['splits', 'u32'],
  ['activation', 'u32'],
  ['slope', 'f32'],
]);

/**
 * conv2d_sum_splits: adds `splits` partial results of a pass's output (binds scratch, output) in
 * split order, then applies the forward's activation, which needs the whole sum.
 */
export function sumSplitsLaunch(p: Conv2dProblem, splits: number, pass: SplitPass): KernelLaunch {
  const count = passOutputFloats(p, pass);
  const activation = pass === 'forward' && p.activation === 'leaky_relu';
  const spread = spreadWorkgroups(ceilDiv(count, SPREAD_WORKGROUP_SIZE));
  return {
    kernel: 'conv2d_sum_splits',
    access: ['read', 'read_write'],
    uniforms: SumSplitsParams.pack({ count, splits, activation: activation ? 1 : 0, slope: activation ? p.slope : 0 }),
    workgroups: [spread.x, 1, spread.z],
    describe: `${pass} partials[${splits},${count}]${activation ? ` then leaky_relu ${p.slope}` : ''}`,
  };
}
