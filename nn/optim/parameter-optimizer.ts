// The bookkeeping Adam and SGD share: checking the parameters, a step count per parameter, the
// state of every parameter in one arena per state name (state-arena.ts), checkpoint save and load,
// and cutting a GPU update into bindings the adapter accepts: each parameter (or piece of one) is
// a chunk, and one dispatch binds each state arena once plus each chunk's parameter and gradient,
// as many chunks as the adapter can bind, so a step costs a few dispatches, not one per parameter.
// Subclasses supply only the update on each backend.
import { gpuRuntime } from '../../engine/backend.ts';
import { cpuData } from '../../engine/cpu-storage.ts';
import { formatShape } from '../../engine/shape.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { Binding, WebGpuRuntime } from '../../engine/webgpu/runtime.ts';
import { ELEMENTWISE_WORKGROUP_SIZE, MAX_WORKGROUPS_PER_DIMENSION } from '../../engine/webgpu/grid.ts';
import { gpuBuffer } from '../../engine/webgpu/storage.ts';
import type { Optimizer } from './optimizer.ts';
import { StateArena } from './state-arena.ts';

/** A contiguous piece of one parameter's GPU update. */
export interface GpuChunk {
  elements: number;
  /** Byte ranges of the parameter and its gradient. */
  param: Binding;
  grad: Binding;
  /** Its first element in each of the dispatch's state buffers (one per state name). */
  stateOffset: number;
}

/**
 * The vec4s of each per-chunk array in the kernels' uniform table (adam_step.wgsl, sgd_step.wgsl
 * declare array<vec4<u32>, 4>): 4 vec4s hold 16 chunks, and three such arrays (workgroup ends,
 * element counts, state offsets) with Adam's 8 scalars fill 224 of a uniform slot's 256 bytes.
 */
export const CHUNK_TABLE_VEC4S = 4;
const MAX_CHUNKS_PER_DISPATCH = 4 * CHUNK_TABLE_VEC4S;

/**
 * Chunks one dispatch updates when it binds `stateCount` state buffers plus a parameter and a
 * gradient per chunk: Adam 7 and SGD with momentum 7 (8 without) of lavapipe's 16 bindings.
 */
export function chunksPerDispatch(rt: WebGpuRuntime, stateCount: number): number {
  return Math.min(MAX_CHUNKS_PER_DISPATCH, Math.floor((rt.adapter.limits.maxStorageBuffersPerShaderStage - stateCount) / 2));
}

/** The uniform table and grid of one multi-chunk dispatch: chunk s owns workgroups [workgroupEnds[s-1], workgroupEnds[s]). */
export function chunkLaunch(chunks: GpuChunk[]): {
  workgroupEnds: number[];
  elements: number[];
  stateOffsets: number[];
  workgroups: [number, number, number];
} {
  const workgroupEnds: number[] = [];
  let end = 0;
  for (const chunk of chunks) {
    end += Math.ceil(chunk.elements / ELEMENTWISE_WORKGROUP_SIZE);
    workgroupEnds.push(end);
  }
  const x = Math.min(Math.max(end, 1), MAX_WORKGROUPS_PER_DIMENSION);
  return {
    workgroupEnds,
    elements: chunks.map((c) => c.elements),
    stateOffsets: chunks.map((c) => c.stateOffset),
    workgroups: [x, Math.ceil(end / x), 1],
  };
}

/** Throws on an option the optimizer does not take, so a misspelt or misplaced one is not ignored. */
export function rejectUnknownOptions(optimizer: string, options: object, known: readonly string[]): void {
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new Error(`${optimizer}: unknown option(s) ${unknown.join(', ')}; it takes ${known.join(', ')}`);
}

export function requireInRange(optimizer: string, option: string, value: number, low: number, high: number, highOpen = false): void {
  const ok = Number.isFinite(value) && value >= low && (highOpen ? value < high : value <= high);
  if (!ok) throw new Error(`${optimizer}: ${option} must be in [${low}, ${high}${highOpen ? ')' : ']'}, got ${value}`);
}

export abstract class ParameterOptimizer implements Optimizer {
  readonly params: Array<[string, Tensor]>;
  lr: number;
  /** Updates applied to each parameter, in params order; PyTorch's state['step']. 0: no state yet. */
  private readonly steps: number[];
  /** Every parameter's state, made (zeroed) at the first step or load. */
  private arena: StateArena | undefined;
  private disposed = false;

  /** PyTorch's names for the per-parameter state tensors, e.g. ['exp_avg', 'exp_avg_sq']. */
  protected abstract readonly stateNames: readonly string[];

  /** Float64 update of one parameter in place; step is this update's count (1 at the first). */
  protected abstract updateCpu(param: Float64Array, grad: Float64Array, state: Float64Array[], step: number): void;

  /**
   * Records one dispatch of the fused kernel for these chunks, all at the same step count, whose
   * state lies in `state` (one buffer per state name) at each chunk's stateOffset.
   */
  protected abstract updateGpu(rt: WebGpuRuntime, state: GPUBuffer[], chunks: GpuChunk[], step: number, describe: string): void;

  constructor(readonly name: string, params: Array<[string, Tensor]>, lr: number) {
    const seen = new Set<string>();
    for (const [paramName, p] of params) {
      if (seen.has(paramName)) throw new Error(`${name}: parameter ${paramName} is listed twice`);
      seen.add(paramName);
      if (!p.kept) throw new Error(`${name}: parameter ${paramName} is not kept, so the first scope would free it; call keep() on it`);
      if (!p.requiresGrad) throw new Error(`${name}: parameter ${paramName} does not require grad, so backward never fills its grad`);
      if (p.dtype !== 'f32') throw new Error(`${name}: parameter ${paramName} has dtype ${p.dtype}; only f32 parameters are optimised`);
    }
    this.params = [...params];
    this.steps = this.params.map(() => 0);
    this.lr = lr;
  }

  private stateArena(action: string): StateArena {
    if (this.disposed) throw new Error(`${this.name} ${action}: the optimizer was disposed`);
    this.arena ??= new StateArena(
      this.params.map(([, p]) => p),
      this.stateNames,
      this.name,
    );
    return this.arena;
  }

  step(): void {
    // The GPU's chunks by step count, and by state segment (one unless the state outgrows a
    // binding): a dispatch passes one step's scalars to all its chunks and binds one segment.
    const gpuWork = new Map<string, { step: number; segment: number; work: Array<{ name: string; chunk: GpuChunk }> }>();
    this.params.forEach(([paramName, param], index) => {
      const grad = param.grad;
      if (grad === null) return;
      param.assertAlive(`${this.name} step of ${paramName}`);
      grad.assertAlive(`${this.name} step of ${paramName}.grad`);
      if (grad.size !== param.size || grad.backend !== param.backend) {
        throw new Error(
          `${this.name}: ${paramName} is ${formatShape(param.shape)} on ${param.backend} but its grad is ${formatShape(grad.shape)} on ${grad.backend}`,
        );
      }
      const arena = this.stateArena('step');
      const step = ++this.steps[index];
      if (param.backend === 'cpu') {
        this.updateCpu(cpuData(param), cpuData(grad), arena.cpuViews(index), step);
        return;
      }
      const name = `${paramName}${formatShape(param.shape)}`;
      const [paramBuffer, gradBuffer] = [gpuBuffer(param), gpuBuffer(grad)];
      for (const piece of arena.pieces(index)) {
        const key = `${step} ${piece.segment}`;
        const group = gpuWork.get(key) ?? { step, segment: piece.segment, work: [] };
        gpuWork.set(key, group);
        const range = { offset: piece.start * 4, size: piece.elements * 4 };
        group.work.push({
          name,
          chunk: { elements: piece.elements, param: { buffer: paramBuffer, ...range }, grad: { buffer: gradBuffer, ...range }, stateOffset: piece.offset },
        });
      }
    });
    if (gpuWork.size === 0) return;
    const rt = gpuRuntime();
    const perDispatch = chunksPerDispatch(rt, this.stateNames.length);
    for (const { step, segment, work } of gpuWork.values()) {
      const state = this.stateNames.length > 0 ? this.arena!.segmentBuffers(segment) : [];
      for (let first = 0; first < work.length; first += perDispatch) {
        const batch = work.slice(first, first + perDispatch);
        this.updateGpu(rt, state, batch.map((w) => w.chunk), step, `${batch.map((w) => w.name).join(' ')} step ${step}`);
      }
    }
  }

  /**
   * Copies of the state, one new tensor each (shaped as its parameter), which the caller owns:
   * dispose them, or call this inside a scope. On the GPU the copies are recorded in order with
   * the steps, so they hold the state as of this call.
   */
  stateTensors(): Array<[string, Tensor]> {
    const named: Array<[string, Tensor]> = [];
    this.params.forEach(([paramName, param], index) => {
      if (this.steps[index] === 0) return;
      const arena = this.stateArena('stateTensors');
      this.stateNames.forEach((s, k) => named.push([`${paramName}.${s}`, arena.copyOut(index, k, param, `${paramName}.${s}`)]));
    });
    return named;
  }

  stateScalars(): Record<string, number> {
    const common = Math.max(0, ...this.steps);
    const scalars: Record<string, number> = { step: common };
    this.params.forEach(([paramName], i) => {
      if (this.steps[i] !== common) scalars[`${paramName}.step`] = this.steps[i];
    });
    return scalars;
  }

  loadState(tensors: Map<string, Float32Array | Float64Array>, scalars: Record<string, number>): void {
    const steps = this.params.map(([paramName]) => {
      const step = scalars[`${paramName}.step`] ?? scalars.step;
      if (step === undefined) throw new Error(`${this.name} loadState: the scalar 'step' is missing`);
      if (!Number.isInteger(step) || step < 0) throw new Error(`${this.name} loadState: step of ${paramName} is ${step}, expected a whole number >= 0`);
      return step;
    });
    const expected = new Set<string>();
    const missing: string[] = [];
    const misSized: string[] = [];
    this.params.forEach(([paramName, param], i) => {
      if (steps[i] === 0) return;
      for (const s of this.stateNames) {
        const key = `${paramName}.${s}`;
        expected.add(key);
        const values = tensors.get(key);
        if (!values) missing.push(key);
        else if (values.length !== param.size) misSized.push(`${key} has ${values.length} values, ${paramName}${formatShape(param.shape)} needs ${param.size}`);
      }
    });
    const unknown = [...tensors.keys()].filter((k) => !expected.has(k));
    const problems = [
      missing.length > 0 ? `missing ${missing.join(', ')}` : '',
      misSized.length > 0 ? `mis-sized: ${misSized.join('; ')}` : '',
      unknown.length > 0 ? `not state of this ${this.name} (or of a parameter at step 0): ${unknown.join(', ')}` : '',
    ].filter(Boolean);
    if (problems.length > 0) throw new Error(`${this.name} loadState: ${problems.join('; ')}`);

    const arena = this.stateArena('loadState');
    this.params.forEach(([paramName, param], i) => {
      this.stateNames.forEach((s, k) => {
        // A parameter put back at step 0 starts its next step from zero state, as a fresh one does.
        if (steps[i] > 0) arena.write(i, k, param.backend, tensors.get(`${paramName}.${s}`)!);
        else if (this.steps[i] > 0) arena.write(i, k, param.backend, new Float64Array(param.size));
      });
      this.steps[i] = steps[i];
    });
  }

  /** Gives the state's GPU buffers back to the pool; the optimizer cannot step, save or load after this. */
  dispose(): void {
    this.arena?.free();
    this.arena = undefined;
    this.disposed = true;
  }
}
