// The op table's shape: an op is its name, its shape rule, a Float64 CPU kernel, a WebGPU kernel
// and a backward rule written with other ops (so it runs on either backend), all in one object.
// apply() runs the kernel for the inputs' backend and records the tape.
import { allocate, gpuRuntime } from '../backend.ts';
import type { Shape } from '../shape.ts';
import { gradEnabled, noGrad, Tensor, type DType } from '../tensor.ts';
import type { WebGpuRuntime } from '../webgpu/runtime.ts';
import { GpuStorage } from '../webgpu/storage.ts';
import { CpuStorage } from '../cpu-storage.ts';
import { checkFinite } from '../webgpu/check-finite.ts';

export interface CpuView {
  data: Float64Array;
  /** Set for i32 tensors (indices). */
  ints?: Int32Array;
  shape: Shape;
}

export interface GpuView {
  buffer: GPUBuffer;
  shape: Shape;
}

export interface BackwardContext<A> {
  /** Gradient of the loss with respect to the op's first output. */
  grad: Tensor;
  inputs: Tensor[];
  outputs: Tensor[];
  attrs: A;
  /** needs[i]: input i requires a gradient; rules return null where it does not. */
  needs: boolean[];
}

export interface OpDef<A> {
  name: string;
  /** Input names, for messages and the witness table; a trailing '?' marks an optional input. */
  inputs: string[];
  outputShapes(shapes: Shape[], attrs: A): Shape[];
  outputDtypes?: DType[];
  cpu(inputs: CpuView[], outputs: CpuView[], attrs: A): void;
  webgpu(rt: WebGpuRuntime, inputs: GpuView[], outputs: GpuView[], attrs: A): void;
  /** Omitted for ops that are only used inside other ops' backward rules. */
  backward?(ctx: BackwardContext<A>): Array<Tensor | null>;
}

const opNames = new Set<string>();

/** The name of every op defined so far: test/ops/witness-names.test.ts holds them against the witness registry. */
export function definedOpNames(): ReadonlySet<string> {
  return opNames;
}

export function defineOp<A>(def: OpDef<A>): OpDef<A> {
  if (opNames.has(def.name)) throw new Error(`op ${def.name} is defined twice`);
  opNames.add(def.name);
  return def;
}

function cpuView(t: Tensor): CpuView {
  const data = (t.storage as CpuStorage).data;
  return data instanceof Int32Array ? { data: new Float64Array(0), ints: data, shape: t.shape } : { data, shape: t.shape };
}

/** Runs an op on its inputs' backend; returns all outputs (the first is the differentiable one). */
export function applyAll<A>(op: OpDef<A>, inputs: Tensor[], attrs: A): Tensor[] {
  const required = op.inputs.filter((n) => !n.endsWith('?')).length;
  if (inputs.length < required || inputs.length > op.inputs.length) {
    throw new Error(`${op.name}: expects inputs (${op.inputs.join(', ')}), got ${inputs.length}`);
  }
  const backend = inputs[0].backend;
  inputs.forEach((t, i) => {
    t.assertAlive(`${op.name} input ${op.inputs[i]}`);
    if (t.backend !== backend) {
      throw new Error(`${op.name}: input ${op.inputs[i]} is on ${t.backend} but ${op.inputs[0]} is on ${backend}`);
    }
  });
  const shapes = op.outputShapes(inputs.map((t) => t.shape), attrs);
  const dtypes = op.outputDtypes ?? shapes.map(() => 'f32' as DType);
  const outputs = shapes.map((s, i) => {
    const size = s.reduce((a, b) => a * b, 1);
    return new Tensor(s, allocate(backend, size, dtypes[i], op.name), dtypes[i], op.name);
  });
  if (backend === 'cpu') {
    op.cpu(inputs.map(cpuView), outputs.map(cpuView), attrs);
  } else {
    const rt = gpuRuntime();
    rt.currentOp = op.name;
    const view = (t: Tensor): GpuView => ({ buffer: (t.storage as GpuStorage).buffer, shape: t.shape });
    const before = rt.dispatchCount;
    op.webgpu(rt, inputs.map(view), outputs.map(view), attrs);
    if (rt.platform.env.SEPBN_CHECK_NAN === '1') checkFinite(op.name, rt.recentDispatches(rt.dispatchCount - before), inputs, outputs);
  }
  const needs = inputs.map((t) => t.requiresGrad);
  if (op.backward && gradEnabled() && needs.some(Boolean)) {
    const result = outputs[0];
    result.requiresGrad = true;
    const backward = op.backward;
    result.node = {
      op: op.name,
      inputs,
      backward: (grad) => noGrad(() => backward({ grad, inputs, outputs, attrs, needs })),
    };
  }
  return outputs;
}

/** Runs a single-output op. */
export function apply<A>(op: OpDef<A>, inputs: Tensor[], attrs: A): Tensor {
  return applyAll(op, inputs, attrs)[0];
}
