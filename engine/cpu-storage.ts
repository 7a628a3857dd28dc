// CPU storage: a Float64Array (f32 tensors) or Int32Array (indices); the reference backend's data.
import { registerReader, type Storage, type Tensor } from './tensor.ts';

export class CpuStorage implements Storage {
  readonly backend = 'cpu' as const;
  refs = 1;

  constructor(readonly data: Float64Array | Int32Array) {}

  get length(): number {
    return this.data.length;
  }

  free(): void {}
}

/** The values of a CPU tensor (no copy: a view of its storage). */
export function cpuData(t: Tensor): Float64Array {
  t.assertAlive('cpu read');
  if (!(t.storage instanceof CpuStorage)) throw new Error(`${t.label} is on ${t.backend}, expected cpu`);
  return t.storage.data.subarray(0, t.size) as Float64Array;
}

registerReader('cpu', {
  read: async (t) => (t.storage as CpuStorage).data.slice(0, t.size),
});
