// How full a large GPU is kept: every pass of a network's training step that does real work, as
// the hardware plan launches it for an adapter's limits, with its workgroups and the invocations
// of each. Pure arithmetic over the launch planners, so it runs anywhere; test/models/gpu-fill.test.ts
// holds both networks to FILL_WORKGROUPS at batch 8 and 64, and `node cli/bench.js suite` prints it.
import { batchNormSampleStatsLaunches, batchNormStatsLaunches } from '../engine/ops/batch-norm.ts';
import { planConv2dBackwardInput, planConv2dBackwardWeight, planConv2dForward } from '../engine/ops/conv2d/plan.ts';
import { planMatmul } from '../engine/ops/matmul-launch.ts';
import { sumLaunches } from '../engine/ops/reduce.ts';
import type { KernelLimits } from '../engine/webgpu/kernel-plan.ts';
import type { KernelLaunch } from '../engine/webgpu/launch.ts';
import { convLayerProblems, fullyConnectedPasses } from './step-shapes.ts';
import type { VanillaCnnConfig } from './vanilla-cnn.ts';

export interface PassFill {
  /** e.g. 'conv3 forward', 'bn2 statistics', 'fc1 weight gradient'. */
  pass: string;
  /** The pass's main launch: the one that does its work (a split pass's partial products). */
  kernel: string;
  workgroups: number;
  invocations: number;
  /** Slices of the reduction (1 when the pass is not split). */
  splits: number;
}

/**
 * Invocations in one workgroup of a launch, from the constants its shader's @workgroup_size reads;
 * an error for a kernel this table does not know, so a new kernel cannot slip past the report.
 */
export function workgroupInvocations(launch: KernelLaunch): number {
  const c = { ...launch.constants, ...launch.unroll };
  switch (launch.kernel) {
    case 'conv2d_forward':
    case 'conv2d_backward_input':
    case 'conv2d_backward_weight':
      return (c.TILE_M / c.THREAD_M) * (c.TILE_N / c.THREAD_N);
    case 'matmul':
      return c.WORKGROUP_COLS * c.WORKGROUP_ROWS;
    case 'matmul_skinny':
      return c.K_LANES * c.COL_QUADS;
    case 'sum':
    case 'sum_short':
    case 'batch_norm_stats':
      return c.WORKGROUP_SIZE ?? 64;
    default:
      throw new Error(`workgroupInvocations: no rule for kernel ${launch.kernel}`);
  }
}

function fill(pass: string, plan: { launches: KernelLaunch[]; splits: number }): PassFill {
  const launch = plan.launches[0];
  const [x, y, z] = launch.workgroups;
  return { pass, kernel: launch.kernel, workgroups: x * y * z, invocations: workgroupInvocations(launch), splits: plan.splits };
}

/**
 * The training step's passes under the hardware plan at a batch size: each convolution's forward,
 * input gradient (not the first layer's: the image needs none) and weight gradient, its bias
 * gradient (not under SepBN, which takes the bias over), each normalisation's batch statistics,
 * and fc1 and fc2's forward and both gradients.
 * SepBN's attention matmuls ([N, C] by [C, C/10]) are too small to fill anything and are left out.
 */
export function hardwarePlanFill(config: VanillaCnnConfig, batch: number, limits?: KernelLimits): PassFill[] {
  const kernels = { plan: 'hardware' as const, limits };
  const rows: PassFill[] = [];
  convLayerProblems(config.width, batch).forEach(({ name, problem: p }, i) => {
    rows.push(fill(`${name} forward`, planConv2dForward(p, kernels)));
    if (i > 0) rows.push(fill(`${name} input gradient`, planConv2dBackwardInput(p, kernels)));
    rows.push(fill(`${name} weight gradient`, planConv2dBackwardWeight(p, kernels)));
    const y = [batch, p.Co, p.H, p.W];
    // SepBN's training op takes the bias over: its gradient comes from the attention's backward pass.
    if (config.norm !== 'sepbn') rows.push(fill(`${name} bias gradient`, sumLaunches(y, [0, 2, 3], 1)));
    // SepBN's training op cuts the statistics one slice a sample (its attention pools the slice means).
    if (config.norm === 'bn') rows.push(fill(`bn${i + 1} statistics`, batchNormStatsLaunches(y)));
    if (config.norm === 'sepbn') rows.push(fill(`bn${i + 1} statistics`, batchNormSampleStatsLaunches(y, kernels)));
  });
  for (const { name, problem } of fullyConnectedPasses(config.width, batch)) rows.push(fill(name, planMatmul(problem, kernels)));
  return rows;
}
