// The bookkeeping Adam and SGD share: checking the parameters, a step count and lazily created
// state tensors per parameter, checkpoint save and load, and cutting a GPU update into bindings
// the adapter accepts: each parameter (or piece of one) is a chunk, and one dispatch updates as
// many chunks as the adapter can bind, so a step costs a few dispatches, not one per parameter.
// Subclasses supply only the update on each backend.
import { gpuRuntime } from '../../engine/backend.ts';
import { cpuData } from '../../engine/cpu-storage.ts';
import { zeros } from '../../engine/create.ts';
import { formatShape } from '../../engine/shape.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { Binding, WebGpuRuntime } from '../../engine/webgpu/runtime.ts';
import { ELEMENTWISE_WORKGROUP_SIZE, MAX_WORKGROUPS_PER_DIMENSION } from '../../engine/webgpu/grid.ts';
import { gpuBuffer } from '../../engine/webgpu/storage.ts';
import type { Optimizer } from './optimizer.ts';

interface ParameterState {
  /** Updates applied to this parameter; PyTorch's state['step']. */
  step: number;
  /** One tensor per entry of stateNames, created at the first step. */
  tensors: Tensor[];
}

/** A contiguous piece of one parameter's GPU update: its elements and the byte ranges to bind for it. */
export interface GpuChunk {
  elements: number;
  /** param, grad, then the state tensors in stateNames order. */
  bindings: Binding[];
}

/**
 * The vec4s of each per-chunk array in the kernels' uniform table (adam_step.wgsl, sgd_step.wgsl
 * declare array<vec4<u32>, 6>): 6 vec4s hold 24 chunks, and two such arrays with the scalars
 * fit the 256 bytes of a uniform slot.
 */
export const CHUNK_TABLE_VEC4S = 6;
const MAX_CHUNKS_PER_DISPATCH = 4 * CHUNK_TABLE_VEC4S;

/** The uniform table and grid of one multi-chunk dispatch: chunk s owns workgroups [workgroupEnds[s-1], workgroupEnds[s]). */
export function chunkLaunch(chunks: GpuChunk[]): { workgroupEnds: number[]; elements: number[]; workgroups: [number, number, number] } {
  const workgroupEnds: number[] = [];
  let end = 0;
  for (const chunk of chunks) {
    end += Math.ceil(chunk.elements / ELEMENTWISE_WORKGROUP_SIZE);
    workgroupEnds.push(end);
  }
  const x = Math.min(Math.max(end, 1), MAX_WORKGROUPS_PER_DIMENSION);
  return { workgroupEnds, elements: chunks.map((c) => c.elements), workgroups: [x, Math.ceil(end / x), 1] };
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
  private readonly states = new Map<string, ParameterState>();

  /** PyTorch's names for the per-parameter state tensors, e.g. ['exp_avg', 'exp_avg_sq']. */
  protected abstract readonly stateNames: readonly string[];

  /** Float64 update of one parameter in place; step is this update's count (1 at the first). */
  protected abstract updateCpu(param: Float64Array, grad: Float64Array, state: Float64Array[], step: number): void;

  /** Records one dispatch of the fused kernel for these chunks, all at the same step count. */
  protected abstract updateGpu(rt: WebGpuRuntime, chunks: GpuChunk[], step: number, describe: string): void;

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
    this.lr = lr;
  }

  step(): void {
    // The GPU's chunks by step count: a dispatch passes one step's scalars to all its chunks.
    const gpuWork = new Map<number, Array<{ name: string; chunk: GpuChunk }>>();
    for (const [paramName, param] of this.params) {
      const grad = param.grad;
      if (grad === null) continue;
      param.assertAlive(`${this.name} step of ${paramName}`);
      grad.assertAlive(`${this.name} step of ${paramName}.grad`);
      if (grad.size !== param.size || grad.backend !== param.backend) {
        throw new Error(
          `${this.name}: ${paramName} is ${formatShape(param.shape)} on ${param.backend} but its grad is ${formatShape(grad.shape)} on ${grad.backend}`,
        );
      }
      const state = this.states.get(paramName) ?? this.createState(paramName, param);
      state.step++;
      if (param.backend === 'cpu') {
        this.updateCpu(cpuData(param), cpuData(grad), state.tensors.map(cpuData), state.step);
      } else {
        const work = gpuWork.get(state.step) ?? [];
        gpuWork.set(state.step, work);
        for (const chunk of gpuChunks(gpuRuntime(), [param, grad, ...state.tensors])) work.push({ name: `${paramName}${formatShape(param.shape)}`, chunk });
      }
    }
    if (gpuWork.size === 0) return;
    const rt = gpuRuntime();
    // Each chunk binds its param, its grad and its state tensors.
    const perDispatch = Math.min(MAX_CHUNKS_PER_DISPATCH, Math.floor(rt.adapter.limits.maxStorageBuffersPerShaderStage / (2 + this.stateNames.length)));
    for (const [step, work] of gpuWork) {
      for (let first = 0; first < work.length; first += perDispatch) {
        const batch = work.slice(first, first + perDispatch);
        this.updateGpu(rt, batch.map((w) => w.chunk), step, `${batch.map((w) => w.name).join(' ')} step ${step}`);
      }
    }
  }

  private createState(paramName: string, param: Tensor): ParameterState {
    const tensors = this.stateNames.map((s) => zeros(param.shape, { backend: param.backend, label: `${paramName}.${s}` }).keep());
    const state = { step: 0, tensors };
    this.states.set(paramName, state);
    return state;
  }

  stateTensors(): Array<[string, Tensor]> {
    const named: Array<[string, Tensor]> = [];
    for (const [paramName] of this.params) {
      const state = this.states.get(paramName);
      state?.tensors.forEach((t, i) => named.push([`${paramName}.${this.stateNames[i]}`, t]));
    }
    return named;
  }

  stateScalars(): Record<string, number> {
    const steps = this.params.map(([paramName]) => this.states.get(paramName)?.step ?? 0);
    const common = Math.max(0, ...steps);
    const scalars: Record<string, number> = { step: common };
    this.params.forEach(([paramName], i) => {
      if (steps[i] !== common) scalars[`${paramName}.step`] = steps[i];
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

    this.params.forEach(([paramName, param], i) => {
      const existing = this.states.get(paramName);
      if (steps[i] === 0) {
        existing?.tensors.forEach((t) => t.dispose());
        this.states.delete(paramName);
        return;
      }
      const state = existing ?? this.createState(paramName, param);
      state.step = steps[i];
      state.tensors.forEach((t, k) => writeValues(t, tensors.get(`${paramName}.${this.stateNames[k]}`)!));
    });
  }
}

/** Overwrites a tensor's values in place (its storage and GPU buffer stay the same). */
function writeValues(t: Tensor, values: Float32Array | Float64Array): void {
  if (t.backend === 'cpu') cpuData(t).set(values);
  else gpuRuntime().upload(gpuBuffer(t), values instanceof Float32Array ? values : Float32Array.from(values));
}

/**
 * Splits same-sized tensors into pieces no larger than one storage binding may be (128 MiB on
 * lavapipe), each starting at an offset the adapter accepts; most parameters are one piece.
 */
function gpuChunks(rt: WebGpuRuntime, tensors: Tensor[]): GpuChunk[] {
  const alignmentBytes = rt.adapter.limits.minStorageBufferOffsetAlignment;
  const maxElements = (Math.floor(rt.maxBindingBytes / alignmentBytes) * alignmentBytes) / 4;
  const buffers = tensors.map(gpuBuffer);
  const total = tensors[0].size;
  const chunks: GpuChunk[] = [];
  for (let start = 0; start < total; start += maxElements) {
    const elements = Math.min(maxElements, total - start);
    chunks.push({ elements, bindings: buffers.map((buffer) => ({ buffer, offset: start * 4, size: elements * 4 })) });
  }
  return chunks;
}
