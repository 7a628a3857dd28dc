// Waiting on a software adapter without stealing its cores.
//
// Dawn's Node binding settles its promises (mapAsync, popErrorScope, onSubmittedWorkDone) by polling:
// while any is pending it re-arms `setImmediate` on every turn of the event loop, a busy loop that
// holds one core. On a GPU that costs nothing the GPU needs. On lavapipe the "GPU" is the CPU: on a
// 2-core machine the poll took a core from the rasteriser's threads, and a compute-bound 1024^3
// matmul ran at 5.8 GFLOP/s instead of 9.6.
//
// The binding looks `setImmediate` up on the global object each time it re-arms, so while the
// runtime waits on a software adapter, that name points at a 1 ms timer instead. Anything else in
// the process that calls setImmediate during such a wait is deferred by up to 1 ms too; the
// original is back as soon as no wait is pending.

type Immediate = typeof globalThis.setImmediate;

const TICK_MS = 1;

export class PatientWait {
  private pending = 0;
  private original: Immediate | undefined;

  constructor(private readonly enabled: boolean) {}

  /** Runs `work` (which awaits Dawn promises) with the poll on a timer, if this adapter needs it. */
  async during<T>(work: () => Promise<T>): Promise<T> {
    if (!this.enabled) return work();
    if (this.pending++ === 0) this.install();
    try {
      return await work();
    } finally {
      if (--this.pending === 0) this.restore();
    }
  }

  private install(): void {
    const original = globalThis.setImmediate;
    this.original = original;
    const onTimer = ((callback: (...args: unknown[]) => void, ...args: unknown[]) =>
      setTimeout(callback, TICK_MS, ...args)) as unknown as Immediate;
    globalThis.setImmediate = Object.assign(onTimer, { __promisify__: original.__promisify__ });
  }

  private restore(): void {
    if (this.original) globalThis.setImmediate = this.original;
    this.original = undefined;
  }
}
