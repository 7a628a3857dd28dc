// Laying a flat count of workgroups out on the dispatch grid. WebGPU caps each dimension at 65535
// workgroups, so a large count is folded onto a second dimension and the shaders rebuild the flat
// index. Two layouts are in use, each with the workgroup size its shaders declare.
import { ceilDiv } from './launch.ts';

/**
 * Workgroups a pass should reach to fill a large GPU: two per multiprocessor of an H100 (132), so
 * that each has a second workgroup to switch to while the first waits on memory. The hardware
 * plan's splits (convolution, matmul) and the reductions' slices aim at it.
 */
export const FILL_WORKGROUPS = 264;

/** WebGPU's default maxComputeWorkgroupsPerDimension, which every adapter offers. */
export const MAX_WORKGROUPS_PER_DIMENSION = 65535;

/**
 * Invocations per workgroup of the elementwise kernels laid out by elementwiseGrid (unary, binary,
 * the optimizer steps, batch norm's apply passes, ...), whose shaders take it as WORKGROUP_SIZE.
 */
export const ELEMENTWISE_WORKGROUP_SIZE = 256;

/**
 * One invocation per element, folded into x and y; kernels rebuild the flat index as
 * gid.y * rowStride + gid.x.
 */
export function elementwiseGrid(total: number, workgroupSize = ELEMENTWISE_WORKGROUP_SIZE): { workgroups: [number, number, number]; rowStride: number } {
  const groups = Math.max(1, ceilDiv(total, workgroupSize));
  const x = Math.min(groups, MAX_WORKGROUPS_PER_DIMENSION);
  const y = ceilDiv(groups, x);
  return { workgroups: [x, y, 1], rowStride: x * workgroupSize };
}

/**
 * Invocations per workgroup of the kernels laid out by spreadWorkgroups with one element per
 * invocation (max pooling, the naive convolutions, the split sums), declared as
 * @workgroup_size(64) in their shaders.
 */
export const SPREAD_WORKGROUP_SIZE = 64;

/**
 * Spreads `count` workgroups over x and z so that neither exceeds 65535; the shaders rebuild the
 * linear index as workgroup_id.x + workgroup_id.z * num_workgroups.x and skip what lies past count.
 */
export function spreadWorkgroups(count: number): { x: number; z: number } {
  const z = ceilDiv(count, MAX_WORKGROUPS_PER_DIMENSION);
  return { x: ceilDiv(count, z), z };
}
