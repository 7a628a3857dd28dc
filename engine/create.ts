// Making tensors: from host values, constant fills and seeded random draws. Random values are
// drawn on the host from a seed, so the CPU and WebGPU backends see the same numbers.
import { defaultBackend, storageFrom } from './backend.ts';
import { Random } from './random.ts';
import { formatShape, sizeOf, type Shape } from './shape.ts';
import { Tensor, type BackendName, type DType } from './tensor.ts';

export interface CreateOptions {
  backend?: BackendName;
  dtype?: DType;
  requiresGrad?: boolean;
  label?: string;
}

export function tensor(values: ArrayLike<number>, shape: Shape, options: CreateOptions = {}): Tensor {
  if (values.length !== sizeOf(shape)) {
    throw new Error(`tensor: ${values.length} values do not fill shape ${formatShape(shape)} (${sizeOf(shape)} elements)`);
  }
  const backend = options.backend ?? defaultBackend();
  const dtype = options.dtype ?? 'f32';
  const label = options.label ?? 'tensor';
  const t = new Tensor([...shape], storageFrom(backend, values, dtype, label), dtype, label);
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}

export function full(shape: Shape, value: number, options: CreateOptions = {}): Tensor {
  return tensor(new Float64Array(sizeOf(shape)).fill(value), shape, options);
}

export function zeros(shape: Shape, options: CreateOptions = {}): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: Shape, options: CreateOptions = {}): Tensor {
  return full(shape, 1, options);
}

export function onesLike(t: Tensor): Tensor {
  return ones(t.shape, { backend: t.backend });
}

export interface RandomOptions extends CreateOptions {
  seed: number;
}

/** Uniform on [low, high) from a seed. */
export function uniform(shape: Shape, low: number, high: number, options: RandomOptions): Tensor {
  const rng = new Random(options.seed);
  const values = new Float64Array(sizeOf(shape));
  for (let i = 0; i < values.length; i++) values[i] = rng.uniform(low, high);
  return tensor(values, shape, options);
}

/** Normal with the given mean and standard deviation, from a seed. */
export function normal(shape: Shape, options: RandomOptions & { mean?: number; std?: number }): Tensor {
  const rng = new Random(options.seed);
  const values = new Float64Array(sizeOf(shape));
  for (let i = 0; i < values.length; i++) values[i] = (options.mean ?? 0) + (options.std ?? 1) * rng.normal();
  return tensor(values, shape, options);
}
