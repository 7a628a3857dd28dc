// The WebGPU runtime: records every dispatch of a step into one command encoder and submits it
// at a flush (a readback or an explicit sync). Nothing here knows about tensors or ops.
import { acquireDevice, type AdapterSummary } from '../device.ts';
import { currentPlatform, type Platform } from '../platform/platform.ts';
import { BufferPool } from './buffer-pool.ts';
import type { KernelLaunch } from './launch.ts';
import { kernelChoice, type KernelChoice } from './kernel-plan.ts';
import { PatientWait } from './patient-wait.ts';
import { KernelError, PipelineCache } from './pipelines.ts';
import { Profiler } from './profiler.ts';
import { UniformRing } from './uniform-ring.ts';

/** A storage buffer, or a byte range of one (for tensors split across bindings). */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset: number; size: number };

interface PendingRead {
  staging: GPUBuffer;
  bytes: number;
  resolve: (data: ArrayBuffer) => void;
  reject: (err: unknown) => void;
}

export class WebGpuRuntime {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  private readonly ring: UniformRing;
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private stagingToDestroy: GPUBuffer[] = [];
  private reads: PendingRead[] = [];
  private lastSubmit: Promise<void> = Promise.resolve();
  private recorded: string[] = [];
  /** Dispatches recorded since the runtime opened; read by the profiler and tests. */
  dispatchCount = 0;
  /** Buffer-to-buffer copies recorded since the runtime opened (uploads and readbacks included): each ends the compute pass. */
  copyCount = 0;
  /** Bound where a kernel's optional input is absent (a matmul without bias). */
  readonly placeholder: GPUBuffer;
  /** The op being recorded, named in profiles and errors. */
  currentOp = 'none';
  /** Set by startProfiling(): every dispatch then gets GPU timestamps. */
  profiler: Profiler | undefined;
  /**
   * The kernels the ops take (kernel-plan.ts): the adapter's own plan, or SEPBN_KERNEL_PLAN's.
   * Tests assign it to run every plan in one process.
   */
  kernels: KernelChoice;
  /** On a software adapter, waits leave the CPU to the rasteriser (see patient-wait.ts). */
  private readonly patience: PatientWait;

  /** What the engine runs on (platform/platform.ts): its switches, shader texts and reports. */
  readonly platform: Platform;

  private constructor(readonly device: GPUDevice, readonly adapter: AdapterSummary) {
    this.platform = currentPlatform();
    this.pool = new BufferPool(device, adapter.limits.maxStorageBufferBindingSize);
    this.pipelines = new PipelineCache(device, this.platform);
    this.ring = new UniformRing(device, adapter.limits.minUniformBufferOffsetAlignment);
    this.placeholder = this.pool.acquire(16, 'placeholder');
    this.patience = new PatientWait(adapter.kind === 'software' && this.platform.pollsOnSetImmediate);
    this.kernels = kernelChoice(adapter, this.platform.env);
  }

  /** Opens the device, which loads the platform (Node's unless a page installed its own). */
  static async open(): Promise<WebGpuRuntime> {
    const { device, adapter } = await acquireDevice();
    return new WebGpuRuntime(device, adapter);
  }

  get maxBindingBytes(): number {
    return this.adapter.limits.maxStorageBufferBindingSize;
  }

  private currentEncoder(): GPUCommandEncoder {
    if (!this.encoder) {
      this.device.pushErrorScope('validation');
      this.encoder = this.device.createCommandEncoder({ label: 'step' });
    }
    return this.encoder;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  /** Records one dispatch; runs at the next flush. */
  dispatch(launch: KernelLaunch, bindings: Binding[]): void {
    if (bindings.length !== launch.access.length) {
      throw new KernelError(launch.kernel, launch.describe, `expects ${launch.access.length} buffers, got ${bindings.length}`);
    }
    const maxGroups = this.adapter.limits.maxComputeWorkgroupsPerDimension;
    if (launch.workgroups.some((n) => n > maxGroups || !Number.isInteger(n) || n < 0)) {
      throw new KernelError(launch.kernel, launch.describe, `workgroup counts ${launch.workgroups.join('x')} exceed ${maxGroups} per dimension`);
    }
    if (launch.workgroups.some((n) => n === 0)) return;
    const kernel = this.pipelines.get(launch);
    let offset = this.ring.push(launch.uniforms);
    if (offset < 0) {
      // A full ring ends the submit early; its errors surface at the next flush.
      const earlier = this.submit();
      this.pipelines.pendingChecks.push(earlier);
      offset = this.ring.push(launch.uniforms);
    }
    const bindGroup = this.bindGroup(kernel.layout, kernel.layoutKey, bindings);
    if (this.profiler?.isFull) this.pipelines.pendingChecks.push(this.submit());
    this.currentEncoder();
    if (this.profiler) {
      this.endPass();
      this.pass = this.encoder!.beginComputePass(this.profiler.passFor(launch.kernel, launch.describe, this.currentOp));
    }
    this.pass ??= this.encoder!.beginComputePass({ label: 'kernels' });
    this.pass.setPipeline(kernel.pipeline);
    this.pass.setBindGroup(0, bindGroup, [offset]);
    this.pass.dispatchWorkgroups(...launch.workgroups);
    if (this.profiler) this.endPass();
    this.recorded.push(`${launch.kernel} (${launch.describe})`);
    this.dispatchCount++;
  }

  private bindGroup(layout: GPUBindGroupLayout, layoutKey: string, bindings: Binding[]): GPUBindGroup {
    const parts = bindings.map((b) =>
      'buffer' in b ? `${this.pool.ids.get(b.buffer)}@${b.offset}+${b.size}` : `${this.pool.ids.get(b)}`,
    );
    const key = `${layoutKey}|${parts.join(',')}`;
    let group = this.bindGroups.get(key);
    if (!group) {
      if (this.bindGroups.size > 8192) this.bindGroups.clear();
      const entries: GPUBindGroupEntry[] = bindings.map((b, binding) => ({
        binding,
        resource: 'buffer' in b ? { buffer: b.buffer, offset: b.offset, size: b.size } : { buffer: b },
      }));
      entries.push({ binding: bindings.length, resource: { buffer: this.ring.buffer, offset: 0, size: 256 } });
      group = this.device.createBindGroup({ layout, entries });
      this.bindGroups.set(key, group);
    }
    return group;
  }

  /** Copies host data into a buffer, in order with the recorded dispatches (not ahead of them). */
  upload(target: GPUBuffer, data: ArrayBufferView, targetOffset = 0): void {
    const bytes = Math.ceil(data.byteLength / 4) * 4;
    const staging = this.device.createBuffer({ size: Math.max(bytes, 4), usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
    new Uint8Array(staging.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    staging.unmap();
    this.copy(staging, 0, target, targetOffset, bytes);
    this.stagingToDestroy.push(staging);
  }

  /** Copies between buffers in recording order; uploads and readbacks record theirs here too, so copyCount sees them all. */
  copy(source: GPUBuffer, sourceOffset: number, target: GPUBuffer, targetOffset: number, bytes: number): void {
    this.endPass();
    this.currentEncoder().copyBufferToBuffer(source, sourceOffset, target, targetOffset, bytes);
    this.copyCount++;
  }

  /**
   * Reads a buffer's bytes as they are at this point of the recording (the copy is recorded now,
   * so later dispatches may reuse the buffer); resolves after the next submit has run.
   */
  readAfterNextSubmit(source: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
    this.copy(source, offset, staging, 0, size);
    return new Promise((resolve, reject) => this.reads.push({ staging, bytes, resolve, reject }));
  }

  /** Reads a buffer's bytes now: submits what is recorded and waits for the copy. */
  async read(source: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    const result = this.readAfterNextSubmit(source, bytes, offset);
    await this.submit();
    return result;
  }

  /**
   * Submits the recorded work without waiting for it. The promise settles once the GPU has run it,
   * its readbacks are mapped, and compile or validation errors (if any) are known: a training loop
   * submits step k, then awaits step k-1's loss while step k runs.
   */
  submit(): Promise<void> {
    if (!this.encoder) return Promise.all(this.pipelines.pendingChecks.splice(0)).then(() => undefined);
    this.endPass();
    const afterProfiledSubmit = this.profiler?.beforeSubmit(this.encoder);
    this.ring.upload();
    this.device.queue.submit([this.encoder.finish()]);
    afterProfiledSubmit?.();
    this.encoder = undefined;
    for (const b of this.stagingToDestroy) b.destroy();
    this.stagingToDestroy = [];
    const recorded = this.recorded;
    this.recorded = [];
    const reads = this.reads;
    this.reads = [];
    const validation = this.device.popErrorScope().then((error) => {
      if (error) throw new KernelError('step', `${recorded.length} dispatches, last: ${recorded.at(-1) ?? 'none'}`, error.message);
    });
    const checks = [...this.pipelines.pendingChecks.splice(0), validation];
    const previous = this.lastSubmit;
    this.lastSubmit = this.patience.during(async () => {
      // Submits settle in order, so readbacks resolve in the order they were recorded.
      await previous.catch(() => undefined);
      // A compile error also invalidates the step; report the compile error, which names the cause.
      const settled = await Promise.allSettled(checks);
      const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
      await Promise.all(
        reads.map(async (read) => {
          try {
            if (failure) throw failure;
            await read.staging.mapAsync(GPUMapMode.READ);
            read.resolve(read.staging.getMappedRange().slice(0, read.bytes));
          } catch (err) {
            read.reject(err);
          } finally {
            read.staging.destroy();
          }
        }),
      );
      if (failure) throw failure;
    });
    return this.lastSubmit;
  }

  /** The last `count` dispatches not yet submitted, as 'kernel (shapes)'. */
  recentDispatches(count: number): string[] {
    return count > 0 ? this.recorded.slice(-count) : [];
  }

  /** Starts timing every dispatch with timestamp queries; false where the adapter has none. */
  startProfiling(): boolean {
    if (!this.device.features.has('timestamp-query')) return false;
    this.profiler ??= new Profiler(this.device);
    this.profiler.clear();
    return true;
  }

  /** Stops timing and returns the kernel timings recorded since startProfiling. */
  async stopProfiling(): Promise<import('./profiler.ts').KernelTiming[]> {
    const profiler = this.profiler;
    if (!profiler) return [];
    await this.submit();
    this.profiler = undefined;
    return [...(await profiler.settle())];
  }

  /** Submits and waits until the GPU has finished everything. */
  async sync(): Promise<void> {
    await this.submit();
    await this.patience.during(() => this.device.queue.onSubmittedWorkDone());
  }
}
