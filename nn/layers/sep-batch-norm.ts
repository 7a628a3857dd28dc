// SepBatchNorm2d(C, K=3, ratio=0.1, temperature, groups=1), with the reference's state-dict names:
// bn.{k}.weight / bias / running_mean / running_var / num_batches_tracked for the K sets,
// fc1.weight [H, C, 1, 1] and fc2.weight [K*groups, H, 1, 1] for the attention, H = max(1, int(ratio*C)).
// The maths lives in engine/ops/sep-batch-norm/ (sep-batch-norm.ts, derivation.md); this layer holds the state.
import {
  sepBatchNormEval,
  sepBatchNormTrain,
  type SepBnOptions,
  type SepBnRunning,
  type SepBnWeights,
} from '../../engine/ops/sep-batch-norm/sep-batch-norm.ts';
import { maxPool2d } from '../../engine/ops/pooling.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { InitSeeds } from '../init.ts';
import { Module } from '../module.ts';
import { BatchNorm2d, BN_MOMENTUM } from './batch-norm.ts';
import { Conv2d } from './conv2d.ts';

export interface SepBnConfig {
  K: number;
  ratio: number;
  groups: number;
  /** Softmax temperature of the attention; the trainer lowers it from 30 by one per epoch to 1. */
  temperature: number;
}

export const SEPBN_DEFAULTS: SepBnConfig = { K: 3, ratio: 0.1, groups: 1, temperature: 30 };

/** The K sets as a ModuleList named `bn`, so their names are bn.0.weight, bn.1.weight, ... */
class BatchNormList extends Module {
  readonly sets: BatchNorm2d[];

  constructor(channels: number, count: number) {
    super();
    this.sets = Array.from({ length: count }, (_, k) => this.child(String(k), new BatchNorm2d(channels)));
  }
}

export class SepBatchNorm2d extends Module {
  readonly bn: BatchNormList;
  readonly fc1: Conv2d;
  readonly fc2: Conv2d;
  temperature: number;
  /** The attention of the last forward (N, G, K), for visualisation; valid until its scope ends. */
  lastAttention: Tensor | undefined;

  constructor(readonly channels: number, readonly config: SepBnConfig, seeds: InitSeeds) {
    super();
    const { K, ratio, groups } = config;
    if (channels % groups !== 0) throw new Error(`SepBatchNorm2d: ${channels} channels do not split into ${groups} equal groups`);
    const hidden = Math.max(1, Math.floor(ratio * channels));
    this.bn = this.child('bn', new BatchNormList(channels, K));
    this.fc1 = this.child('fc1', new Conv2d(channels, hidden, 1, seeds, { bias: false }));
    this.fc2 = this.child('fc2', new Conv2d(hidden, K * groups, 1, seeds, { bias: false }));
    this.temperature = config.temperature;
  }

  private weights(): SepBnWeights {
    return {
      gammas: this.bn.sets.map((s) => s.weight),
      betas: this.bn.sets.map((s) => s.bias),
      fc1: this.fc1.weight,
      fc2: this.fc2.weight,
    };
  }

  private running(): SepBnRunning {
    return { means: this.bn.sets.map((s) => s.runningMean), vars: this.bn.sets.map((s) => s.runningVar) };
  }

  private options(leakySlope: number | undefined, maxPool: boolean): SepBnOptions {
    return { groups: this.config.groups, temperature: this.temperature, leakySlope, maxPool };
  }

  /**
   * With leakySlope, the LeakyReLU that follows runs in the normalisation's last pass; with
   * maxPool, so does the network's 2x2 max pooling after it in training (its output is returned).
   * In training, convBias is the preceding convolution's bias when that ran without it (see
   * sepBatchNormTrain): the layer adds it.
   */
  forward(x: Tensor, leakySlope?: number, maxPool = false, convBias?: Tensor): Tensor {
    if (!this.training) {
      if (convBias) throw new Error('SepBatchNorm2d: the convolution bias is taken over in training only; in eval mode the convolution adds it');
      const { y, attention } = sepBatchNormEval(x, this.weights(), this.running(), this.options(leakySlope, false));
      this.lastAttention = attention;
      return maxPool ? maxPool2d(y, 2) : y;
    }
    // All K reference BatchNorms see the same x, so each takes the same batch statistics (in the training op's own pass).
    const { y, attention } = sepBatchNormTrain(x, this.weights(), this.options(leakySlope, maxPool), true, { ...this.running(), momentum: BN_MOMENTUM }, convBias);
    for (const set of this.bn.sets) set.numBatchesTracked.value++;
    this.lastAttention = attention;
    return y;
  }
}
