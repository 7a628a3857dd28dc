// Which convolution kernel each pass gets under a kernel plan (engine/webgpu/kernel-plan.ts): the
// software plan takes the subgroup-broadcast kernels where they apply (the model's 3x3
// convolutions, with fixed-size subgroups) and the workgroup-memory tilings elsewhere; the
// hardware plan takes the tilings everywhere, sized from the adapter's limits and split-K where
// the output tiles alone are too few; the naive plan one output per invocation.

import type { KernelChoice } from '../../webgpu/kernel-plan.ts';
import type { KernelLaunch } from '../../webgpu/launch.ts';
import { conv2dBackwardInputLaunches, conv2dBackwardWeightLaunches, conv2dForwardLaunches } from './hardware-launch.ts';
import { conv2dNaiveBackwardInputLaunch, conv2dNaiveBackwardWeightLaunch, conv2dNaiveForwardLaunch } from './naive-launch.ts';
import type { Conv2dProblem } from './problem.ts';
import { conv2dBackwardInputNarrowLaunch, conv2dForwardNarrowLaunch, conv2dSubgroupLaunch } from './software-launch.ts';
import { conv2dBackwardWeightSubgroupLaunches } from './software-weight-launch.ts';
import type { Conv2dPassPlan } from './split-sums.ts';

function subgroupLanes(kernels: KernelChoice): number | undefined {
  return kernels.plan === 'software' ? kernels.subgroupSize : undefined;
}

function onePass(launch: KernelLaunch): Conv2dPassPlan {
  return { launches: [launch], scratchFloats: 0, splits: 1 };
}

/** The forward's kernel where it is not a tiling: naive, or a subgroup kernel (the narrow one for at most 4 input channels). */
function untiledForward(p: Conv2dProblem, kernels: KernelChoice): KernelLaunch | undefined {
  if (kernels.plan === 'naive') return conv2dNaiveForwardLaunch(p);
  const lanes = subgroupLanes(kernels);
  return lanes !== undefined ? conv2dForwardNarrowLaunch(p, lanes) ?? conv2dSubgroupLaunch(p, lanes, 'forward') : undefined;
}

/** The input gradient's kernel where it is not a tiling: naive, or a subgroup kernel (the narrow one for at most 4 result channels). */
function untiledBackwardInput(p: Conv2dProblem, kernels: KernelChoice): KernelLaunch | undefined {
  if (kernels.plan === 'naive') return conv2dNaiveBackwardInputLaunch(p);
  const lanes = subgroupLanes(kernels);
  return lanes !== undefined ? conv2dBackwardInputNarrowLaunch(p, lanes) ?? conv2dSubgroupLaunch(p, lanes, 'input') : undefined;
}

/** Forward: one launch on (x, weight, bias, y), or (x, weight, bias, scratch) then (scratch, y). */
export function planConv2dForward(p: Conv2dProblem, kernels: KernelChoice): Conv2dPassPlan {
  const untiled = untiledForward(p, kernels);
  return untiled ? onePass(untiled) : conv2dForwardLaunches(p, { limits: kernels.limits });
}

/** Input gradient: one launch on (dy, weight, dx), or (dy, weight, scratch) then (scratch, dx). */
export function planConv2dBackwardInput(p: Conv2dProblem, kernels: KernelChoice): Conv2dPassPlan {
  const untiled = untiledBackwardInput(p, kernels);
  return untiled ? onePass(untiled) : conv2dBackwardInputLaunches(p, { limits: kernels.limits });
}

/** Weight gradient: one launch on (x, dy, dw), or (x, dy, scratch) then (scratch, dw). */
export function planConv2dBackwardWeight(p: Conv2dProblem, kernels: KernelChoice): Conv2dPassPlan {
  if (kernels.plan === 'naive') return onePass(conv2dNaiveBackwardWeightLaunch(p));
  const lanes = subgroupLanes(kernels);
  return (lanes !== undefined ? conv2dBackwardWeightSubgroupLaunches(p, lanes) : undefined) ?? conv2dBackwardWeightLaunches(p, { limits: kernels.limits });
}
