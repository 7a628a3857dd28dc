// One gather for every op that only moves values: out (row-major) reads x through given strides.
// broadcast_to uses strides that are 0 along broadcast axes; permute uses x's strides reordered.
import { sizeOf, type Shape } from '../shape.ts';
import { elementwiseGrid } from '../webgpu/grid.ts';
import { defineUniformStruct } from '../webgpu/launch.ts';
import type { WebGpuRuntime } from '../webgpu/runtime.ts';
import type { CpuView, GpuView } from './op.ts';

const MAX_RANK = 8;

const StridedCopyParams = defineUniformStruct('StridedCopyParams', [
  ['total', 'u32'],
  ['rank', 'u32'],
  ['rowStride', 'u32'],
  ['outShape', 'array<vec4<u32>, 2>'],
  ['xStrides', 'array<vec4<u32>, 2>'],
]);

export function cpuStridedCopy(x: CpuView, out: CpuView, xStrides: number[]): void {
  const rank = out.shape.length;
  for (let i = 0; i < out.data.length; i++) {
    let rest = i;
    let offset = 0;
    for (let a = rank - 1; a >= 0; a--) {
      offset += (rest % out.shape[a]) * xStrides[a];
      rest = Math.floor(rest / out.shape[a]);
    }
    out.data[i] = x.data[offset];
  }
}

export function gpuStridedCopy(rt: WebGpuRuntime, x: GpuView, out: GpuView, xStrides: number[], describe: string): void {
  const shape: Shape = out.shape;
  if (shape.length > MAX_RANK) throw new Error(`${describe}: rank ${shape.length} exceeds ${MAX_RANK}`);
  const total = sizeOf(shape);
  const grid = elementwiseGrid(total);
  rt.dispatch(
    {
      kernel: 'strided_copy',
      access: ['read', 'read_write'],
      uniforms: StridedCopyParams.pack({ total, rank: shape.length, rowStride: grid.rowStride, outShape: shape, xStrides }),
      workgroups: grid.workgroups,
      describe,
    },
    [x.buffer, out.buffer],
  );
}
