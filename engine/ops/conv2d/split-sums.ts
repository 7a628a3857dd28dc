// The weight gradient's split reduction, shared by the hardware and the software kernels: the
// plan's shape, the cap on its scratch buffer, and the deterministic sum of the partial results
// (shaders/conv2d/conv2d_sum_splits.wgsl). No GPU objects.

import { spreadWorkgroups, SPREAD_WORKGROUP_SIZE } from '../../webgpu/grid.ts';
import { type KernelLaunch, ceilDiv, defineUniformStruct } from '../../webgpu/launch.ts';
import type { Conv2dProblem } from './problem.ts';

/** The largest storage binding lavapipe accepts, and so the cap on the split-K scratch buffer. */
export const MAX_BINDING_BYTES = 128 * 1024 * 1024;

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

const SumSplitsParams = defineUniformStruct('SumSplitsParams', [
  ['count', 'u32'],
  ['splits', 'u32'],
]);

/** conv2d_sum_splits: adds `splits` partial weight gradients (binds scratch, dw). */
export function sumSplitsLaunch(p: Conv2dProblem, splits: number): KernelLaunch {
  const count = p.Co * p.Ci * p.KH * p.KW;
  const spread = spreadWorkgroups(ceilDiv(count, SPREAD_WORKGROUP_SIZE));
  return {
    kernel: 'conv2d_sum_splits',
    access: ['read', 'read_write'],
    uniforms: SumSplitsParams.pack({ count, splits }),
    workgroups: [spread.x, 1, spread.z],
    describe: `partials[${splits},${count}] dw[${p.Co},${p.Ci},${p.KH},${p.KW}]`,
  };
}
