// The front door of nn/ (`import ... from 'sepbn-webgpu/nn'`): modules and layers with PyTorch's
// names, optimizers, learning-rate schedules, and state dicts as safetensors (or .pth) files. The
// layers' maths lives in the engine's ops; a layer holds the parameters and buffers.

export {
  /** A tree of named parameters, buffers and children: namedParameters(), stateDict(), train(), eval(). */
  Module,
  /** An integer buffer kept on the host (BatchNorm's num_batches_tracked). */
  Counter,
} from './module.ts';
export {
  /** The seeds layers draw their initial weights from, one per tensor in construction order. */
  InitSeeds,
} from './init.ts';
export {
  /** torch.nn.Conv2d with square kernels: weight [out, in, k, k], optional bias. */
  Conv2d,
} from './layers/conv2d.ts';
export {
  /** torch.nn.Linear: y = x · weightᵀ + bias. */
  Linear,
} from './layers/linear.ts';
export {
  /** torch.nn.BatchNorm2d (eps 1e-5, momentum 0.1). */
  BatchNorm2d,
} from './layers/batch-norm.ts';
export {
  /** SepBN: K BatchNorm scale and shift sets mixed per sample by an attention over the input, with the reference's state-dict names. */
  SepBatchNorm2d,
  /** K 3, ratio 0.1, one group, temperature 30: the paper's settings. */
  SEPBN_DEFAULTS,
  /** A SepBN layer's K, hidden-width ratio, groups and temperature. */
  type SepBnConfig,
} from './layers/sep-batch-norm.ts';

export {
  /** An optimizer by name: 'adam', 'adamw' or 'sgd'. */
  createOptimizer,
  /** The learning rate and settings the commands use when given none. */
  TRAINING_DEFAULTS,
  /** What every optimizer offers: params, lr, step(), and its state for checkpoints. */
  type Optimizer,
  /** 'adam', 'adamw' or 'sgd'. */
  type OptimizerKind,
  /** The options of every optimizer. */
  type OptimizerOptions,
} from './optim/optimizer.ts';
export {
  /** Adam and AdamW with torch.optim's exact update. */
  Adam,
  /** Adam's lr, betas, eps, weightDecay and decoupled (AdamW). */
  type AdamOptions,
} from './optim/adam.ts';
export {
  /** SGD with momentum and weight decay, as torch.optim.SGD. */
  Sgd,
  /** SGD's lr, momentum and weightDecay. */
  type SgdOptions,
} from './optim/sgd.ts';
export {
  /** Linear warm-up, then half a cosine down to a floor: the learning rate by fractional epoch. */
  warmupCosine,
  /** SepBN's attention temperature at an epoch: from a start (30), a step (1) less each epoch, never below an end (1). */
  sepBnTemperature,
  /** A learning rate as a function of fractional epochs done. */
  type LrSchedule,
} from './optim/schedule.ts';

export {
  /** Writes a module's parameters and buffers to a safetensors file with PyTorch's names. */
  saveStateDict,
  /** Loads a safetensors state dict into a module, checking every name and shape. */
  loadStateDict,
  /** A state dict that does not fit the module: lists what is missing, extra or mis-shaped. */
  StateDictError,
} from './state-dict.ts';
export {
  /** A safetensors file's tensors by name, and its metadata. */
  readSafetensors,
  /** Writes named arrays (and string metadata) as a safetensors file, atomically. */
  writeSafetensors,
  /** A file that is not readable safetensors; the message names the file and the problem. */
  SafetensorsError,
  /** A host array with its safetensors dtype and shape. */
  type NamedArray,
} from './safetensors.ts';
export {
  /** Any weights file by its content: safetensors, or a PyTorch .pth in either of torch.save's formats (read without running its pickle). */
  readWeightsFile,
  /** A weights file that cannot be read at all (missing, a folder, no permission). */
  WeightsFileError,
  /** A weights file's format, tensors, metadata and what was done to reach its tensors. */
  type WeightsFile,
} from './weights-file.ts';
