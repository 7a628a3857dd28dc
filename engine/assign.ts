// Overwrites a kept tensor's values with another's, in place and in recording order: how running
// statistics are updated without replacing the tensors a state dict refers to.
import { CpuStorage } from './cpu-storage.ts';
import { formatShape, sameShape } from './shape.ts';
import type { Tensor } from './tensor.ts';
import { GpuStorage } from './webgpu/storage.ts';

export function assign(target: Tensor, source: Tensor): void {
  if (!sameShape(target.shape, source.shape) || target.backend !== source.backend) {
    throw new Error(`assign: ${target.label}${formatShape(target.shape)} on ${target.backend} cannot take ${source.label}${formatShape(source.shape)} on ${source.backend}`);
  }
  target.assertAlive('assign');
  source.assertAlive('assign');
  if (target.storage instanceof CpuStorage && source.storage instanceof CpuStorage) {
    target.storage.data.set(source.storage.data.subarray(0, source.size));
  } else if (target.storage instanceof GpuStorage && source.storage instanceof GpuStorage) {
    target.storage.runtime.copy(source.storage.buffer, 0, target.storage.buffer, 0, source.size * 4);
  }
}

/** Overwrites a tensor's values from host data (checkpoint loading). */
export function assignValues(target: Tensor, values: ArrayLike<number>): void {
  if (values.length !== target.size) throw new Error(`assign: ${target.label}${formatShape(target.shape)} needs ${target.size} values, got ${values.length}`);
  if (target.storage instanceof CpuStorage) target.storage.data.set(Float64Array.from(values));
  else if (target.storage instanceof GpuStorage) target.storage.runtime.upload(target.storage.buffer, values instanceof Float32Array ? values : Float32Array.from(values));
}
