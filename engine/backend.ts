// Which backend new tensors go to, and how storage is made on each. The WebGPU runtime is opened
// once (asynchronously) by useBackend('webgpu'); after that every op is synchronous recording.
import { CpuStorage } from './cpu-storage.ts';
import { releaseDevice } from './device.ts';
import type { BackendName, DType, Storage, Tensor } from './tensor.ts';
import { WebGpuRuntime } from './webgpu/runtime.ts';
import { GpuStorage } from './webgpu/storage.ts';
import type { KernelTiming } from './webgpu/profiler.ts';

let current: BackendName = 'cpu';
let runtime: WebGpuRuntime | undefined;

/** Selects the default backend; opens the GPU device the first time WebGPU is chosen. */
export async function useBackend(name: BackendName): Promise<void> {
  if (name === 'webgpu') runtime ??= await WebGpuRuntime.open();
  current = name;
}

export function defaultBackend(): BackendName {
  return current;
}

export function gpuRuntime(): WebGpuRuntime {
  if (!runtime) throw new Error('the WebGPU backend is not open: call await useBackend("webgpu") first');
  return runtime;
}

export function allocate(backend: BackendName, length: number, dtype: DType, label: string): Storage {
  if (backend === 'cpu') return new CpuStorage(dtype === 'i32' ? new Int32Array(length) : new Float64Array(length));
  const rt = gpuRuntime();
  return new GpuStorage(rt, rt.pool.acquire(length * 4, label), length);
}

/** Storage holding a copy of host values (rounded to f32 on the GPU). */
export function storageFrom(backend: BackendName, values: ArrayLike<number>, dtype: DType, label: string): Storage {
  if (backend === 'cpu') {
    return new CpuStorage(dtype === 'i32' ? Int32Array.from(values) : Float64Array.from(values));
  }
  const storage = allocate(backend, values.length, dtype, label) as GpuStorage;
  const host = dtype === 'i32' ? Int32Array.from(values) : values instanceof Float32Array ? values : Float32Array.from(values);
  storage.runtime.upload(storage.buffer, host);
  return storage;
}

/**
 * The scalar value of a one-element tensor, read without stalling: on the GPU the copy is recorded
 * now and the value arrives after the next submit, so a training loop can read a step's loss
 * while the following step runs.
 */
export function readScalarLater(t: Tensor): Promise<number> {
  t.assertAlive('readScalarLater');
  if (t.storage instanceof GpuStorage) {
    return t.storage.runtime.readAfterNextSubmit(t.storage.buffer, 4).then((bytes) => new Float32Array(bytes)[0]);
  }
  return Promise.resolve((t.storage as CpuStorage).data[0]);
}

/** Starts the recorded GPU work without waiting (the CPU backend has nothing pending). */
export function submitWork(): Promise<void> {
  return runtime?.submit() ?? Promise.resolve();
}

/** Starts timing every GPU dispatch with timestamp queries; false on the CPU or without the feature. */
export function startProfiling(): boolean {
  return current === 'webgpu' && (runtime?.startProfiling() ?? false);
}

/** Ends profiling; resolves to the kernel timings once the profiled work has run. */
export async function stopProfiling(): Promise<KernelTiming[]> {
  return runtime ? runtime.stopProfiling() : [];
}

/** Submits recorded GPU work and waits for it (no-op on the CPU). */
export async function sync(): Promise<void> {
  await runtime?.sync();
}

/** Frees the GPU device so the process can exit. Call once at the end of a program or test file. */
export function shutdown(): void {
  runtime = undefined;
  current = 'cpu';
  releaseDevice();
}
