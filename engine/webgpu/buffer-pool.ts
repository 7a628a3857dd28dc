// Storage buffers recycled by size class, so a training step allocates nothing after its first run.
// A buffer handed back may be reused by a dispatch recorded later in the same command encoder:
// commands run in recording order, so the earlier readers have finished with it by then.

/** Rounds a request up to a size class: 256-byte steps below 64 KiB, then quarter powers of two. */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, bytes);
  if (b <= 65536) return Math.ceil(b / 256) * 256;
  const step = 2 ** (Math.floor(Math.log2(b)) - 2);
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private nextId = 0;
  /** Stable ids for bind-group cache keys. */
  readonly ids = new WeakMap<GPUBuffer, number>();
  bytesAllocated = 0;
  bytesInUse = 0;
  /** The most bytes in use at once since the pool opened or resetPeak(): a run's GPU memory. */
  peakBytesInUse = 0;

  constructor(private readonly device: GPUDevice, private readonly maxBindingBytes: number) {}

  acquire(bytes: number, label: string): GPUBuffer {
    if (bytes > this.maxBindingBytes) {
      throw new Error(
        `${label}: a tensor of ${bytes} bytes is more than this adapter binds at once (maxStorageBufferBindingSize ${this.maxBindingBytes}); use a smaller batch`,
      );
    }
    // Rounding up must not push a bindable tensor past the binding limit.
    const size = Math.min(sizeClass(bytes), this.maxBindingBytes);
    this.bytesInUse += size;
    this.peakBytesInUse = Math.max(this.peakBytesInUse, this.bytesInUse);
    const reused = this.free.get(size)?.pop();
    if (reused) return reused;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const buffer = this.device.createBuffer({ size, usage, label });
    this.ids.set(buffer, this.nextId++);
    this.bytesAllocated += size;
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    this.bytesInUse -= buffer.size;
    const list = this.free.get(buffer.size);
    if (list) list.push(buffer);
    else this.free.set(buffer.size, [buffer]);
  }

  /** Starts a new peak from what is in use now. */
  resetPeak(): void {
    this.peakBytesInUse = this.bytesInUse;
  }

  /** Destroys the idle buffers (for example after a memory-hungry phase). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const buffer of list) {
        this.bytesAllocated -= buffer.size;
        buffer.destroy();
      }
    }
    this.free.clear();
  }
}
