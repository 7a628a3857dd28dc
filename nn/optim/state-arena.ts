// An optimizer's per-parameter state (Adam: exp_avg and exp_avg_sq), kept as one arena per state
// name with every parameter's values back to back, so a GPU dispatch binds each state once for
// all the parameters it updates instead of once per parameter: Adam then updates 7 parameters in
// 16 bindings, not 4. On the GPU an arena is one buffer per state name as long as it fits one
// binding (every model here); beyond that it continues in further buffers ("segments"), each no
// larger than one binding, and a parameter too large for one binding is laid out as pieces, the
// same pieces its update binds of the parameter and its gradient. On the CPU an arena is one
// Float64Array per state name, each parameter's state a view of it.
import { allocate, gpuRuntime } from '../../engine/backend.ts';
import { cpuData } from '../../engine/cpu-storage.ts';
import { Tensor } from '../../engine/tensor.ts';
import type { WebGpuRuntime } from '../../engine/webgpu/runtime.ts';
import type { GpuStorage } from '../../engine/webgpu/storage.ts';

/** Where a contiguous piece of one parameter's state lies. */
export interface StatePiece {
  /** Its first element within the parameter. */
  start: number;
  elements: number;
  /** The GPU segment holding it (0 on the CPU). */
  segment: number;
  /** Its first element within that segment (on the CPU, within the arena). */
  offset: number;
}

/**
 * The most elements of a parameter one binding takes, at an offset every binding of the next piece
 * may start at (minStorageBufferOffsetAlignment): 32M on lavapipe's 128 MiB.
 */
export function elementsPerBinding(rt: WebGpuRuntime): number {
  const alignmentBytes = rt.adapter.limits.minStorageBufferOffsetAlignment;
  return (Math.floor(rt.maxBindingBytes / alignmentBytes) * alignmentBytes) / 4;
}

export class StateArena {
  /** Per parameter, in the optimizer's order. */
  private readonly layout: StatePiece[][] = [];
  /** Per state name, the CPU parameters' values. */
  private readonly cpu: Float64Array[];
  /** Per segment, one buffer per state name. */
  private segments: GPUBuffer[][] = [];
  private readonly rt: WebGpuRuntime | undefined;

  /** Lays out and zeroes the state of every parameter, on each one's backend; `optimizer` names the buffers. */
  constructor(params: Tensor[], stateNames: readonly string[], optimizer: string) {
    const stateCount = stateNames.length;
    const gpu = params.some((p) => p.backend === 'webgpu');
    this.rt = gpu ? gpuRuntime() : undefined;
    const pieceElements = this.rt ? elementsPerBinding(this.rt) : 0;
    const segmentElements = this.rt ? Math.floor(this.rt.maxBindingBytes / 4) : 0;
    const segmentSizes: number[] = [];
    let cpuElements = 0;
    for (const param of params) {
      if (param.backend === 'cpu') {
        this.layout.push([{ start: 0, elements: param.size, segment: 0, offset: cpuElements }]);
        cpuElements += param.size;
        continue;
      }
      const pieces: StatePiece[] = [];
      for (let start = 0; start < param.size; start += pieceElements) {
        const elements = Math.min(pieceElements, param.size - start);
        // Without state there is nothing to bind, so no reason to split dispatches by segment.
        if (segmentSizes.length === 0 || (stateCount > 0 && segmentSizes.at(-1)! + elements > segmentElements)) segmentSizes.push(0);
        pieces.push({ start, elements, segment: segmentSizes.length - 1, offset: segmentSizes.at(-1)! });
        segmentSizes[segmentSizes.length - 1] += elements;
      }
      this.layout.push(pieces);
    }
    this.cpu = Array.from({ length: stateCount }, () => new Float64Array(cpuElements));
    if (this.rt && stateCount > 0) {
      const rt = this.rt;
      this.segments = segmentSizes.map((elements, segment) =>
        Array.from({ length: stateCount }, (_, s) => {
          const buffer = rt.pool.acquire(Math.max(elements, 1) * 4, `${optimizer} ${stateNames[s]} arena ${segment}`);
          // Pool buffers come back with their last owner's values; state starts at zero.
          rt.upload(buffer, new Float32Array(buffer.size / 4));
          return buffer;
        }),
      );
    }
  }

  /** The pieces of parameter `index` (one, unless it is a GPU parameter larger than a binding). */
  pieces(index: number): readonly StatePiece[] {
    return this.layout[index];
  }

  /** The state buffers of one GPU segment, in state-name order. */
  segmentBuffers(segment: number): GPUBuffer[] {
    return this.segments[segment];
  }

  /** The state of CPU parameter `index`, one view into the arena per state name. */
  cpuViews(index: number): Float64Array[] {
    const [{ offset, elements }] = this.layout[index];
    return this.cpu.map((arena) => arena.subarray(offset, offset + elements));
  }

  /** A new tensor holding a copy of state `s` of parameter `index` (the copy is recorded in order with the step's dispatches). */
  copyOut(index: number, s: number, like: Tensor, label: string): Tensor {
    const storage = allocate(like.backend, like.size, 'f32', label);
    const copy = new Tensor([...like.shape], storage, 'f32', label);
    if (like.backend === 'cpu') {
      cpuData(copy).set(this.cpuViews(index)[s]);
      return copy;
    }
    const target = (storage as GpuStorage).buffer;
    for (const piece of this.layout[index]) {
      this.rt!.copy(this.segments[piece.segment][s], piece.offset * 4, target, piece.start * 4, piece.elements * 4);
    }
    return copy;
  }

  /** Overwrites state `s` of parameter `index` (f32 on the GPU: Float64 values are rounded). */
  write(index: number, s: number, backend: Tensor['backend'], values: Float32Array | Float64Array): void {
    if (backend === 'cpu') {
      this.cpuViews(index)[s].set(values);
      return;
    }
    const f32 = values instanceof Float32Array ? values : Float32Array.from(values);
    for (const piece of this.layout[index]) {
      this.rt!.upload(this.segments[piece.segment][s], f32.subarray(piece.start, piece.start + piece.elements), piece.offset * 4);
    }
  }

  /** Gives the GPU buffers back to the pool. */
  free(): void {
    for (const buffers of this.segments) for (const buffer of buffers) this.rt!.pool.release(buffer);
    this.segments = [];
  }
}
