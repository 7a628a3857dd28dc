// Which convolution kernel each pass gets under a kernel plan (engine/webgpu/kernel-plan.ts): the
// software plan takes the subgroup-broadcast kernels where they apply (the model's 3x3
// convolutions, with fixed-size subgroups) and the workgroup-memory tilings elsewhere; the
// hardware plan takes the tilings everywhere; the naive plan one output per invocation.

import type { KernelChoice } from '../../webgpu/kernel-plan.ts';
import type { KernelLaunch } from '../../webgpu/launch.ts';
import { conv2dBackwardInputLaunch, conv2dBackwardWeightLaunches, conv2dForwardLaunch } from './hardware-launch.ts';
import { conv2dNaiveBackwardInputLaunch, conv2dNaiveBackwardWeightLaunch, conv2dNaiveForwardLaunch } from './naive-launch.ts';
import type { Conv2dProblem } from './problem.ts';
import { conv2dBackwardInputNarrowLaunch, conv2dForwardNarrowLaunch, conv2dSubgroupLaunch } from './software-launch.ts';
import { conv2dBackwardWeightSubgroupLaunches } from './software-weight-launch.ts';
import type { Conv2dBackwardWeightPlan } from './split-sums.ts';

function subgroupLanes(kernels: KernelChoice): number | undefined {
  return kernels.plan === 'software' ? kernels.subgroupSize : undefined;
}

/** Forward: binds x, weight, bias, y. A reduction of at most 4 channels (the first layer) takes the narrow kernel. */
export function planConv2dForward(p: Conv2dProblem, kernels: KernelChoice): KernelLaunch {
  if (kernels.plan === 'naive') return conv2dNaiveForwardLaunch(p);
  const lanes = subgroupLanes(kernels);
  const subgroup = lanes !== undefined ? conv2dForwardNarrowLaunch(p, lanes) ?? conv2dSubgroupLaunch(p, lanes, 'forward') : undefined;
  return subgroup ?? conv2dForwardLaunch(p);
}

/** Input gradient: binds dy, weight, dx. A result of at most 4 channels (the first layer's) takes the narrow kernel. */
export function planConv2dBackwardInput(p: Conv2dProblem, kernels: KernelChoice): KernelLaunch {
  if (kernels.plan === 'naive') return conv2dNaiveBackwardInputLaunch(p);
  const lanes = subgroupLanes(kernels);
  const subgroup = lanes !== undefined ? conv2dBackwardInputNarrowLaunch(p, lanes) ?? conv2dSubgroupLaunch(p, lanes, 'input') : undefined;
  return subgroup ?? conv2dBackwardInputLaunch(p);
}

/** Weight gradient: one launch on (x, dy, dw), or (x, dy, scratch) then (scratch, dw). */
export function planConv2dBackwardWeight(p: Conv2dProblem, kernels: KernelChoice): Conv2dBackwardWeightPlan {
  if (kernels.plan === 'naive') return { launches: [conv2dNaiveBackwardWeightLaunch(p)], scratchFloats: 0, splits: 1 };
  const lanes = subgroupLanes(kernels);
  return (lanes !== undefined ? conv2dBackwardWeightSubgroupLaunches(p, lanes) : undefined) ?? conv2dBackwardWeightLaunches(p);
}
