// Tensor: a shape over a reference-counted storage on one backend, plus the autodiff fields.
// The CPU backend stores Float64 (the reference); the WebGPU backend stores f32 in a pooled buffer.
import { formatShape, sizeOf, type Shape } from './shape.ts';
import { track } from './scope.ts';

export type BackendName = 'cpu' | 'webgpu';
/** f32 is the value type; i32 holds indices (max-pool's argmax). */
export type DType = 'f32' | 'i32';
export type HostArray = Float64Array | Float32Array | Int32Array;

/** Data of one backend, shared by a tensor and its reshaped views; freed when the last one goes. */
export interface Storage {
  readonly backend: BackendName;
  /** Elements, not bytes. */
  readonly length: number;
  refs: number;
  free(): void;
}

export interface TapeNode {
  op: string;
  inputs: Tensor[];
  /** Gradients of the inputs given the gradient of this tensor (null where not needed). */
  backward: (grad: Tensor) => Array<Tensor | null>;
}

export interface TensorReader {
  read(t: Tensor): Promise<HostArray>;
}

const readers = new Map<BackendName, TensorReader>();

/** Backends register how their storage is read back, so this file needs no backend imports. */
export function registerReader(backend: BackendName, reader: TensorReader): void {
  readers.set(backend, reader);
}

let nextTensorId = 0;

export class Tensor {
  readonly id = nextTensorId++;
  readonly size: number;
  requiresGrad = false;
  grad: Tensor | null = null;
  node: TapeNode | null = null;
  /** Kept tensors (parameters, optimizer state, running statistics) outlive every scope. */
  kept = false;
  disposed = false;
  /** What made this tensor (an op name, or a parameter name), shown in errors and the tape walk. */
  label: string;

  constructor(
    readonly shape: Shape,
    readonly storage: Storage,
    readonly dtype: DType = 'f32',
    label = 'tensor',
  ) {
    this.size = sizeOf(shape);
    if (this.size > storage.length) {
      throw new Error(`tensor of shape ${formatShape(shape)} needs ${this.size} elements but its storage has ${storage.length}`);
    }
    this.label = label;
    track(this);
  }

  get backend(): BackendName {
    return this.storage.backend;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** The values, flat in row-major order: Float64Array on the CPU, Float32Array on the GPU. */
  async toArray(): Promise<HostArray> {
    this.assertAlive('toArray');
    const reader = readers.get(this.backend);
    if (!reader) throw new Error(`no reader registered for backend ${this.backend}`);
    return reader.read(this);
  }

  /** The values as nested arrays, for printing and for the debugger. */
  async toNested(): Promise<unknown> {
    const flat = Array.from(await this.toArray());
    const build = (dim: number, offset: number): unknown => {
      if (dim === this.shape.length) return flat[offset];
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  /** A view with another shape over the same storage (no copy). Differentiable. */
  reshape(shape: readonly number[]): Tensor {
    this.assertAlive('reshape');
    const inferred = inferShape(shape, this.size, this.shape);
    this.storage.refs++;
    const view = new Tensor(inferred, this.storage, this.dtype, 'reshape');
    if (this.requiresGrad && gradEnabled()) {
      view.requiresGrad = true;
      const from = this.shape;
      view.node = { op: 'reshape', inputs: [this], backward: (g) => [g.reshape(from)] };
    }
    return view;
  }

  /** Marks this tensor as living beyond the current scope. */
  keep(): this {
    this.kept = true;
    return this;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.node = null;
    if (--this.storage.refs === 0) this.storage.free();
  }

  assertAlive(action: string): void {
    if (this.disposed) {
      throw new Error(`${action}: tensor ${this.label}${formatShape(this.shape)} was disposed (its scope ended); keep() it or return it from the scope`);
    }
  }

  toString(): string {
    return `Tensor(${this.label}, ${formatShape(this.shape)}, ${this.backend}${this.requiresGrad ? ', requires grad' : ''})`;
  }
}

function inferShape(shape: readonly number[], size: number, from: Shape): number[] {
  const unknown = shape.indexOf(-1);
  const known = shape.reduce((a, d, i) => (i === unknown ? a : a * d), 1);
  const out = [...shape];
  if (unknown >= 0) out[unknown] = size / known;
  if (!out.every((d) => Number.isInteger(d) && d >= 0) || sizeOf(out) !== size) {
    throw new Error(`reshape: cannot view ${formatShape(from)} (${size} elements) as ${formatShape(shape)}`);
  }
  return out;
}

let gradDepth = 0;

export function gradEnabled(): boolean {
  return gradDepth === 0;
}

/** Runs fn without recording the tape (optimizer steps, evaluation, backward rules). */
export function noGrad<T>(fn: () => T): T {
  gradDepth++;
  try {
    return fn();
  } finally {
    gradDepth--;
  }
}
