// torch.nn.BatchNorm2d: eps 1e-5, momentum 0.1; training normalises with the batch's biased
// variance and folds the unbiased one into running_var; eval normalises with the running ones.
import { maxPool2d } from '../../engine/ops/pooling.ts';
import { updateRunningStatistics, type RunningStatistics } from '../../engine/assign.ts';
import { ones, zeros } from '../../engine/create.ts';
import { mul, rsqrt, sub } from '../../engine/ops/arith.ts';
import { BN_EPS, batchNormTrain, channelAffine } from '../../engine/ops/batch-norm.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { Counter, Module } from '../module.ts';

export const BN_MOMENTUM = 0.1;

export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly numBatchesTracked: Counter;

  constructor(readonly channels: number, readonly eps = BN_EPS, readonly momentum = BN_MOMENTUM) {
    super();
    this.weight = this.parameter('weight', ones([channels]));
    this.bias = this.parameter('bias', zeros([channels]));
    this.runningMean = this.buffer('running_mean', zeros([channels]));
    this.runningVar = this.buffer('running_var', ones([channels]));
    this.numBatchesTracked = this.buffer('num_batches_tracked', new Counter());
  }

  /** running_mean and running_var as one set, as updateRunningStatistics takes them. */
  get runningStatistics(): RunningStatistics {
    return { mean: this.runningMean, variance: this.runningVar };
  }

  /** Eval mode as one affine: scale = weight / sqrt(running_var + eps), shift = bias - scale * running_mean. */
  evalAffine(): { scale: Tensor; shift: Tensor } {
    const s = mul(this.weight, rsqrt(this.runningVar, this.eps));
    return { scale: s, shift: sub(this.bias, mul(s, this.runningMean)) };
  }

  /**
   * With leakySlope, the LeakyReLU that follows runs in the same passes; with maxPool, the
   * network's 2x2 max pooling follows (in training in the normalisation's last pass).
   */
  forward(x: Tensor, leakySlope?: number, maxPool = false): Tensor {
    const C = this.channels;
    if (!this.training) {
      const { scale: s, shift } = this.evalAffine();
      const y = channelAffine(x, s.reshape([1, C]), shift.reshape([1, C]), leakySlope);
      return maxPool ? maxPool2d(y, 2) : y;
    }
    const { y, mean, variance } = batchNormTrain(x, this.weight.reshape([1, C]), this.bias.reshape([1, C]), this.eps, leakySlope, maxPool);
    updateRunningStatistics([this.runningStatistics], mean, variance, x.shape[0] * x.shape[2] * x.shape[3], this.momentum);
    this.numBatchesTracked.value++;
    return y;
  }
}
