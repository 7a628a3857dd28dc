// One-invocation-per-element dispatches: fold the workgroup count into x and y when it exceeds
// the 65535-per-dimension limit; kernels rebuild the flat index as gid.y * rowStride + gid.x.
import { ceilDiv } from './launch.ts';

export const ELEMENTWISE_WORKGROUP = 256;
const MAX_PER_DIMENSION = 65535;

export function elementwiseGrid(total: number, workgroupSize = ELEMENTWISE_WORKGROUP): { workgroups: [number, number, number]; rowStride: number } {
  const groups = Math.max(1, ceilDiv(total, workgroupSize));
  const x = Math.min(groups, MAX_PER_DIMENSION);
  const y = ceilDiv(groups, x);
  return { workgroups: [x, y, 1], rowStride: x * workgroupSize };
}
