// Which family of kernels the ops take: the workgroup-memory tilings a GPU runs ('hardware'), the
// subgroup-broadcast kernels of CPU rasterisers such as lavapipe ('software'), or one output per
// invocation ('naive', for debugging and as the benchmark baseline). The adapter decides by
// default; SEPBN_KERNEL_PLAN forces one on any adapter, so a machine without a GPU still runs
// every kernel a GPU would take. Only the kernel choice changes: waiting, default batch and width
// follow the real adapter.
import { currentPlatform } from '../platform/platform.ts';
import type { AdapterTraits } from './launch.ts';

export const KERNEL_PLANS = ['hardware', 'software', 'naive'] as const;
export type KernelPlan = (typeof KERNEL_PLANS)[number];

/** The adapter limits the tilings are sized from (names as in GPUSupportedLimits). */
export interface KernelLimits {
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxStorageBufferBindingSize: number;
}

/** WebGPU's defaults, which every adapter offers: what a plan without the adapter's limits assumes. */
export const DEFAULT_KERNEL_LIMITS: KernelLimits = {
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxStorageBufferBindingSize: 134217728,
};

/** What the launch planners need: the plan, the fixed subgroup size the software kernels are built for, and the adapter's limits. */
export interface KernelChoice {
  plan: KernelPlan;
  /** The subgroup size where every subgroup has that size; the software kernels need it and fall back to the tilings without. */
  subgroupSize?: number;
  /** The adapter's limits; DEFAULT_KERNEL_LIMITS where absent (a plan written by hand in a test). */
  limits?: KernelLimits;
}

export function isKernelPlan(name: unknown): name is KernelPlan {
  return typeof name === 'string' && (KERNEL_PLANS as readonly string[]).includes(name);
}

/**
 * The adapter's own plan: the tilings on a GPU, the subgroup kernels on a CPU rasteriser, except
 * on SwiftShader (Chromium's WebGPU without a GPU), which chokes on those kernels' unrolled
 * bodies, built for lavapipe: in Chromium 156 the first layer's kernel (conv2d_forward_narrow) had
 * not finished one 32x32 image after four minutes, while the naive kernels ran a whole forward of
 * the 1/64-width model in 0.6 s and the walkthrough faster than the subgroup plan.
 */
export function defaultKernelPlan(adapter: AdapterTraits & { architecture?: string }): KernelPlan {
  if (adapter.kind === 'hardware') return 'hardware';
  return adapter.architecture === 'swiftshader' ? 'naive' : 'software';
}

/**
 * The plan in force: SEPBN_KERNEL_PLAN=hardware|software|naive when set (SEPBN_NAIVE_KERNELS=1 is
 * a synonym for naive), else the adapter's own.
 */
export function kernelChoice(
  adapter: AdapterTraits & { architecture?: string; limits?: Record<string, number> },
  env: Readonly<Record<string, string | undefined>> = currentPlatform().env,
): KernelChoice {
  const forced = env.SEPBN_KERNEL_PLAN;
  const naive = env.SEPBN_NAIVE_KERNELS === '1';
  if (forced !== undefined && forced !== '' && !isKernelPlan(forced)) {
    throw new Error(`SEPBN_KERNEL_PLAN=${forced}: expected one of ${KERNEL_PLANS.join(', ')}`);
  }
  if (naive && forced && forced !== 'naive') {
    throw new Error(`SEPBN_KERNEL_PLAN=${forced} and SEPBN_NAIVE_KERNELS=1 ask for different kernels; set one`);
  }
  const plan = forced || (naive ? 'naive' : defaultKernelPlan(adapter));
  const choice: KernelChoice = { plan, subgroupSize: adapter.subgroupSize };
  if (adapter.limits) {
    const { maxComputeWorkgroupStorageSize, maxComputeInvocationsPerWorkgroup, maxStorageBufferBindingSize } = adapter.limits;
    choice.limits = { maxComputeWorkgroupStorageSize, maxComputeInvocationsPerWorkgroup, maxStorageBufferBindingSize };
  }
  return choice;
}

/** How the plan is described to a person: 'software, subgroups of 8 (the adapter's)' or 'hardware (forced by SEPBN_KERNEL_PLAN)'. */
export function describeKernelChoice(choice: KernelChoice, adapter: AdapterTraits & { architecture?: string }, env: Readonly<Record<string, string | undefined>> = currentPlatform().env): string {
  const lanes = choice.plan === 'software' ? (choice.subgroupSize ? `, subgroups of ${choice.subgroupSize}` : ', no fixed subgroup size: tilings') : '';
  const forcedBy = env.SEPBN_KERNEL_PLAN ? 'SEPBN_KERNEL_PLAN' : env.SEPBN_NAIVE_KERNELS === '1' ? 'SEPBN_NAIVE_KERNELS=1' : undefined;
  const source = forcedBy ? `forced by ${forcedBy}` : choice.plan === defaultKernelPlan(adapter) ? "the adapter's" : 'chosen by the program';
  return `${choice.plan}${lanes} (${source})`;
}
