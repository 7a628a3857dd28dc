// Which convolution kernel each pass gets on an adapter: on a CPU rasteriser with fixed-size
// subgroups, the subgroup-broadcast kernels where they apply (the model's 3x3 convolutions); the
// workgroup-memory tilings everywhere else.

import type { AdapterTraits, KernelLaunch } from '../../webgpu/launch.ts';
import { conv2dBackwardInputLaunch, conv2dBackwardWeightLaunches, conv2dForwardLaunch } from './hardware-launch.ts';
import type { Conv2dProblem } from './problem.ts';
import { conv2dBackwardInputNarrowLaunch, conv2dForwardNarrowLaunch, conv2dSubgroupLaunch } from './software-launch.ts';
import { conv2dBackwardWeightSubgroupLaunches } from './software-weight-launch.ts';
import type { Conv2dBackwardWeightPlan } from './split-sums.ts';

function subgroupLanes(adapter: AdapterTraits): number | undefined {
  return adapter.kind === 'software' ? adapter.subgroupSize : undefined;
}

/** Forward: binds x, weight, bias, y. A reduction of at most 4 channels (the first layer) takes the narrow kernel. */
export function planConv2dForward(p: Conv2dProblem, adapter: AdapterTraits): KernelLaunch {
  const lanes = subgroupLanes(adapter);
  const subgroup = lanes !== undefined ? conv2dForwardNarrowLaunch(p, lanes) ?? conv2dSubgroupLaunch(p, lanes, 'forward') : undefined;
  return subgroup ?? conv2dForwardLaunch(p);
}

/** Input gradient: binds dy, weight, dx. A result of at most 4 channels (the first layer's) takes the narrow kernel. */
export function planConv2dBackwardInput(p: Conv2dProblem, adapter: AdapterTraits): KernelLaunch {
  const lanes = subgroupLanes(adapter);
  const subgroup = lanes !== undefined ? conv2dBackwardInputNarrowLaunch(p, lanes) ?? conv2dSubgroupLaunch(p, lanes, 'input') : undefined;
  return subgroup ?? conv2dBackwardInputLaunch(p);
}

/** Weight gradient: one launch on (x, dy, dw), or (x, dy, scratch) then (scratch, dw). */
export function planConv2dBackwardWeight(p: Conv2dProblem, adapter: AdapterTraits): Conv2dBackwardWeightPlan {
  const lanes = subgroupLanes(adapter);
  return (lanes !== undefined ? conv2dBackwardWeightSubgroupLaunches(p, lanes) : undefined) ?? conv2dBackwardWeightLaunches(p);
}
