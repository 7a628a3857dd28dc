// What every optimizer offers the training loop and the checkpoint code, and the one place that
// builds an optimizer by name. Adam, AdamW and SGD follow torch.optim exactly (foreach=False
// semantics), so a run resumed from a PyTorch checkpoint continues where PyTorch would.
import type { Tensor } from '../../engine/tensor.ts';
import { Adam, type AdamOptions } from './adam.ts';
import { Sgd, type SgdOptions } from './sgd.ts';

export interface Optimizer {
  /** Named parameters, e.g. ['conv1.weight', t]; each is kept and requires grad. */
  readonly params: Array<[string, Tensor]>;
  /** The learning rate of the next step; the schedule sets it before each step. */
  lr: number;
  /** One update from each param.grad (parameters without a grad are skipped); records GPU work, reads nothing back. */
  step(): void;
  /**
   * State for checkpoints, named '<parameter>.<PyTorch state name>', e.g. 'conv1.weight.exp_avg':
   * new tensors holding a copy, which the caller disposes (or makes inside a scope).
   */
  stateTensors(): Array<[string, Tensor]>;
  /** The step count, e.g. { step: 12 }, plus '<parameter>.step' for any parameter whose count differs. */
  stateScalars(): Record<string, number>;
  /**
   * Restores what stateTensors and stateScalars saved, writing into the existing state tensors.
   * Checks everything before changing anything; errors name missing, mis-sized and unknown tensors.
   * Float64 values restore the CPU backend's state exactly; Float32 values (a checkpoint file) round it to f32.
   */
  loadState(tensors: Map<string, Float32Array | Float64Array>, scalars: Record<string, number>): void;
  /** Frees the state (GPU buffers back to the pool); the optimizer cannot step, save or load after this. */
  dispose(): void;
}

export type OptimizerKind = 'adam' | 'adamw' | 'sgd';

export type OptimizerOptions = AdamOptions & SgdOptions;

/**
 * The settings the commands (train, grads) use when the user gives none. The constructors' own
 * defaults follow PyTorch instead: SGD without momentum or weight decay.
 */
export const TRAINING_DEFAULTS = {
  adam: { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0 },
  sgd: { lr: 1e-3, momentum: 0.9, weightDecay: 5e-4 },
} as const;

/** 'adamw' is Adam with decoupled weight decay (torch.optim.AdamW's rule). */
export function createOptimizer(kind: OptimizerKind, params: Array<[string, Tensor]>, options: OptimizerOptions = {}): Optimizer {
  switch (kind) {
    case 'adam':
      return new Adam(params, options);
    case 'adamw':
      return new Adam(params, { ...options, decoupled: true });
    case 'sgd':
      return new Sgd(params, options);
    default:
      throw new Error(`unknown optimizer '${kind as string}': expected adam, adamw or sgd`);
  }
}
