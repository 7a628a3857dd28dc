// A pass that may be split over its reduction (split-K): one launch that writes the result, or a
// launch that writes each slice's partial result into a scratch buffer and a second that adds the
// slices in a fixed order (deterministic, no atomics) into the result. The convolution and the
// matmul plan this way; here is the one place that binds and records such a plan.
import type { KernelLaunch } from './launch.ts';
import type { Binding, WebGpuRuntime } from './runtime.ts';

export interface SplitPlan {
  /** One launch, or the partial pass then the sum. */
  launches: KernelLaunch[];
  /** Floats of scratch the partial results need; 0 with one launch. */
  scratchFloats: number;
}

/**
 * Each launch with its bindings: the single launch on (inputs, output); else the partial pass on
 * (inputs, scratch) and the sum on (scratch, sumInputs, output). `sumInputs` are what the sum
 * applies after adding the slices (the matmul's bias).
 */
export function bindSplitPlan(plan: SplitPlan, inputs: Binding[], output: GPUBuffer, scratch: GPUBuffer | undefined, sumInputs: Binding[] = []): Array<[KernelLaunch, Binding[]]> {
  if (plan.launches.length === 1) return [[plan.launches[0], [...inputs, output]]];
  if (!scratch) throw new Error(`${plan.launches[0].kernel}: a split pass needs a scratch buffer of ${plan.scratchFloats} floats`);
  return [[plan.launches[0], [...inputs, scratch]], [plan.launches[1], [scratch, ...sumInputs, output]]];
}

/**
 * Records a plan. The partial results live only between its two dispatches; the pool may hand the
 * scratch buffer to a later dispatch of the same submit, which runs after both.
 */
export function dispatchSplitPlan(rt: WebGpuRuntime, plan: SplitPlan, inputs: Binding[], output: GPUBuffer, label: string, sumInputs: Binding[] = []): void {
  const scratch = plan.launches.length > 1 ? rt.pool.acquire(plan.scratchFloats * 4, `${label} split-K partials`) : undefined;
  for (const [launch, bindings] of bindSplitPlan(plan, inputs, output, scratch, sumInputs)) rt.dispatch(launch, bindings);
  if (scratch) rt.pool.release(scratch);
}
