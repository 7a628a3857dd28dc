// GPU storage: a pooled f32 (or i32) buffer; freed storage goes back to the runtime's pool.
import { registerReader, type Storage, type Tensor } from '../tensor.ts';
import type { WebGpuRuntime } from './runtime.ts';

export class GpuStorage implements Storage {
  readonly backend = 'webgpu' as const;
  refs = 1;
  private released = false;

  constructor(readonly runtime: WebGpuRuntime, readonly buffer: GPUBuffer, readonly length: number) {}

  free(): void {
    if (this.released) return;
    this.released = true;
    this.runtime.pool.release(this.buffer);
  }
}

export function gpuBuffer(t: Tensor): GPUBuffer {
  t.assertAlive('gpu read');
  if (!(t.storage instanceof GpuStorage)) throw new Error(`${t.label} is on ${t.backend}, expected webgpu`);
  return t.storage.buffer;
}

registerReader('webgpu', {
  read: async (t) => {
    const storage = t.storage as GpuStorage;
    const bytes = await storage.runtime.read(storage.buffer, t.size * 4);
    return t.dtype === 'i32' ? new Int32Array(bytes) : new Float32Array(bytes);
  },
});
