// The engine's front door (`import ... from 'sepbn-webgpu'`): tensors, the ops a user calls, the
// tape, memory scopes, the backends and the gradient checks. Everything else under engine/ stays
// importable (`sepbn-webgpu/engine/ops/conv2d/plan.js`, ...) for the curious, but this is the surface
// the README documents. A program opens a backend, computes, and closes it:
//   await useBackend('webgpu');  ...  shutdown();

export {
  /** Makes `webgpu` (Dawn; opened on first use) or `cpu` (the Float64 reference) the backend of new tensors. */
  useBackend,
  /** The backend new tensors go to. */
  defaultBackend,
  /** Submits the recorded GPU work and waits until it has run (a no-op on the CPU). */
  sync,
  /** Closes the backend: destroys the GPU device and makes the CPU the default again. */
  shutdown,
} from './backend.ts';
export {
  /** Thrown by useBackend('webgpu') on a machine without a WebGPU adapter; its message says what to install. */
  NoGpuError,
} from './device.ts';

export {
  /** A shape over storage on one backend: `shape`, `requiresGrad`, `grad`, `toArray()`, `toNested()`, `reshape()`, `keep()`, `dispose()`. */
  Tensor,
  /** Runs a function without recording the tape (evaluation, hand-made updates). */
  noGrad,
  /** 'cpu' or 'webgpu'. */
  type BackendName,
  /** 'f32' for values, 'i32' for indices. */
  type DType,
  /** What toArray() resolves to: Float64Array on the CPU, Float32Array on the GPU. */
  type HostArray,
} from './tensor.ts';
export {
  /** A list of dimensions, e.g. [N, C, H, W]. */
  type Shape,
} from './shape.ts';

export {
  /** A tensor from host values and a shape; options: backend, requiresGrad, label. */
  tensor,
  /** A tensor filled with one value. */
  full,
  /** A tensor of zeros. */
  zeros,
  /** A tensor of ones. */
  ones,
  /** Uniform values on [low, high) drawn from a seed (the same on both backends). */
  uniform,
  /** Normal values (mean, std) drawn from a seed (the same on both backends). */
  normal,
  /** Options of tensor(), full(), zeros(), ones(). */
  type CreateOptions,
  /** Options of uniform() and normal(): CreateOptions plus the seed. */
  type RandomOptions,
} from './create.ts';

export {
  /** a + b, broadcasting as NumPy does. */
  add,
  /** a - b, broadcasting. */
  sub,
  /** a * b, elementwise, broadcasting. */
  mul,
  /** a / b, broadcasting. */
  div,
  /** alpha * x + beta. */
  scale,
  /** LeakyReLU with the given negative slope (default 0.01). */
  leakyRelu,
  /** |x|. */
  abs,
  /** 1 / sqrt(x + eps). */
  rsqrt,
} from './ops/arith.ts';
export {
  /** Sum over the given axes (all when omitted), optionally keeping them as size 1. */
  sum,
  /** Mean over the given axes (all when omitted), optionally keeping them as size 1. */
  mean,
  /** Repeats x along its size-1 and missing leading dimensions to a shape. */
  broadcastTo,
} from './ops/reduce.ts';
export {
  /** Softmax of x / temperature along an axis. */
  softmax,
} from './ops/softmax.ts';
export {
  /** Matrix product of 2-D or batched 3-D tensors, with optional transposes and bias. */
  matmul,
  /** PyTorch's Linear: x · weightᵀ + bias. */
  linear,
} from './ops/matmul.ts';
export {
  /** Reorders dimensions (a copy). */
  permute,
  /** Stacks 1 to 8 same-shaped tensors along a new first dimension. */
  stack,
} from './ops/layout.ts';
export {
  /** 2-D convolution, NCHW input and OIHW weight, with stride, padding, bias and a fused LeakyReLU. */
  conv2d,
  /** Options of conv2d(). */
  type Conv2dOptions,
} from './ops/conv2d/conv2d.ts';
export {
  /** PyTorch's MaxPool2d(kernel, stride, padding). */
  maxPool2d,
  /** The mean over H and W, keeping [N, C, 1, 1]. */
  globalAvgPool2d,
} from './ops/pooling.ts';
export {
  /** Batch normalisation in training mode with the batch's statistics; returns y, mean and biased variance. */
  batchNormTrain,
} from './ops/batch-norm.ts';
export {
  /** SepBN in training mode (fused kernels, or with fused = false the composite of primitive ops); returns y, attention, mean, variance. */
  sepBatchNormTrain,
  /** SepBN in eval mode: one per-sample affine from the K sets' running statistics. */
  sepBatchNormEval,
  /** SepBN's attention a [N, G, K]: which mix of the K scale and shift sets each sample gets. */
  sepBnAttention,
  /** Each sample's vector mixed from K per-channel vectors by the attention: sum_k a[n, g(c), k] · params_k[c]. */
  mixAffine,
  /** SepBN's parameters: K gammas and betas [C], fc1.weight [H, C, 1, 1], fc2.weight [K*G, H, 1, 1]. */
  type SepBnWeights,
  /** SepBN's groups G, temperature T, eps and attention slope. */
  type SepBnOptions,
  /** The K sets' running means and variances, for eval mode. */
  type SepBnRunning,
} from './ops/sep-batch-norm/sep-batch-norm.ts';
export {
  /** PyTorch's L1Loss: mean |prediction - target|. */
  l1Loss,
} from './ops/loss.ts';

export {
  /** Walks the tape back from a scalar (or from options.grad) and adds each leaf's gradient into its .grad. */
  backward,
  /** Drops the .grad of the given tensors. */
  zeroGrad,
  /** Options of backward(): grad, retainGrads, onNode. */
  type BackwardOptions,
} from './autodiff.ts';
export {
  /** Runs a function (sync or async) and frees every tensor it made but did not return or keep(). */
  scope,
} from './scope.ts';

export {
  /** A case's gradients against finite differences (CPU, Float64), then on WebGPU its forward and backward against the CPU. */
  gradcheck,
  /** Only the CPU tape's gradients against central finite differences. */
  checkAgainstFiniteDifferences,
  /** Only the WebGPU forward and backward against the CPU's. */
  checkGpuAgainstCpu,
  /** Check rows as a table. */
  formatCheckTable,
  /** max |got - want| / max |want|, the error measure of every check. */
  maxRelativeError,
  /** One row of a check: what was compared, the error, the tolerance, pass. */
  type CheckRow,
} from './gradcheck.ts';
export {
  /** Draws values away from zero, so finite differences do not straddle a kink (abs, LeakyReLU). */
  awayFromZero,
  /** Draws positive values (denominators, variances). */
  positive,
  /** What gradcheck checks: a label, the inputs' shapes, and the function of them. */
  type WitnessCase,
  /** One input of a case: its shape, name, how values are drawn, whether its gradient is checked. */
  type WitnessInput,
} from './ops/witness.ts';
export {
  /** The seeded generator behind every random draw (next, uniform, normal), the same on every backend. */
  Random,
} from './random.ts';
export {
  /** Values as nested rows with fixed significant digits, for printing a tensor. */
  formatValues,
} from './format.ts';
