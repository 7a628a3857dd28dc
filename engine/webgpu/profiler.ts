// Kernel timing from GPU timestamp queries: while profiling, every dispatch gets a compute pass of
// its own whose beginning and end write timestamps, resolved and read back at each submit. The
// records name the kernel, its shapes and the op on the tape that dispatched it.

export interface KernelTiming {
  kernel: string;
  describe: string;
  op: string;
  /** GPU time, milliseconds from the profiler's first timestamp. */
  startMs: number;
  durationMs: number;
}

/** WebGPU's limit on queries in one set. */
const QUERY_CAPACITY = 4096;

interface PendingPass {
  kernel: string;
  describe: string;
  op: string;
}

export class Profiler {
  readonly records: KernelTiming[] = [];
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private pending: PendingPass[] = [];
  private origin: bigint | undefined;
  private readonly reads: Promise<void>[] = [];

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: QUERY_CAPACITY, label: 'profiler' });
    this.resolveBuffer = device.createBuffer({ size: QUERY_CAPACITY * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'profiler resolve' });
  }

  get isFull(): boolean {
    return (this.pending.length + 1) * 2 > QUERY_CAPACITY;
  }

  /** The descriptor of the next dispatch's own pass. */
  passFor(kernel: string, describe: string, op: string): GPUComputePassDescriptor {
    const index = this.pending.length;
    this.pending.push({ kernel, describe, op });
    return {
      label: kernel,
      timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * index, endOfPassWriteIndex: 2 * index + 1 },
    };
  }

  /** Records the resolve and readback of this submit's timestamps (call before finishing the encoder). */
  beforeSubmit(encoder: GPUCommandEncoder): (() => void) | undefined {
    const passes = this.pending;
    if (passes.length === 0) return undefined;
    this.pending = [];
    const bytes = passes.length * 16;
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'profiler readback' });
    encoder.resolveQuerySet(this.querySet, 0, passes.length * 2, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, staging, 0, bytes);
    return () => {
      this.reads.push(
        staging.mapAsync(GPUMapMode.READ).then(() => {
          const stamps = new BigInt64Array(staging.getMappedRange());
          this.origin ??= stamps[0];
          passes.forEach((p, i) => {
            const start = Number(stamps[2 * i] - this.origin!) / 1e6;
            const end = Number(stamps[2 * i + 1] - this.origin!) / 1e6;
            this.records.push({ ...p, startMs: start, durationMs: Math.max(0, end - start) });
          });
          staging.destroy();
        }),
      );
    };
  }

  /** Waits for every submitted readback. */
  async settle(): Promise<KernelTiming[]> {
    await Promise.all(this.reads.splice(0));
    return this.records;
  }

  clear(): void {
    this.records.length = 0;
    this.origin = undefined;
  }
}

/** A Chrome trace (chrome://tracing, Perfetto): one complete event per kernel, on one GPU track. */
export function chromeTrace(records: KernelTiming[], note: string): object {
  return {
    displayTimeUnit: 'ms',
    otherData: { note },
    traceEvents: [
      { name: 'process_name', ph: 'M', pid: 1, args: { name: 'GPU' } },
      { name: 'thread_name', ph: 'M', pid: 1, tid: 1, args: { name: 'kernels (timestamp queries)' } },
      ...records.map((r) => ({
        name: r.kernel,
        cat: r.op,
        ph: 'X',
        pid: 1,
        tid: 1,
        ts: r.startMs * 1000,
        dur: r.durationMs * 1000,
        args: { op: r.op, shapes: r.describe },
      })),
    ],
  };
}

export interface KernelTotal {
  kernel: string;
  calls: number;
  totalMs: number;
  share: number;
}

/** Kernels by total time, largest first. */
export function kernelTotals(records: KernelTiming[]): KernelTotal[] {
  const byKernel = new Map<string, { calls: number; totalMs: number }>();
  for (const r of records) {
    const t = byKernel.get(r.kernel) ?? { calls: 0, totalMs: 0 };
    t.calls++;
    t.totalMs += r.durationMs;
    byKernel.set(r.kernel, t);
  }
  const all = [...byKernel.values()].reduce((a, t) => a + t.totalMs, 0);
  return [...byKernel.entries()]
    .map(([kernel, t]) => ({ kernel, ...t, share: all > 0 ? t.totalMs / all : 0 }))
    .sort((a, b) => b.totalMs - a.totalMs);
}
