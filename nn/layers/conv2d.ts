import { conv2d } from '../../engine/ops/conv2d/conv2d.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { kaimingUniform, zeroBias, type InitSeeds } from '../init.ts';
import { Module } from '../module.ts';

/** torch.nn.Conv2d with square kernels: weight [out, in, k, k], optional bias [out]. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | undefined;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    seeds: InitSeeds,
    readonly options: { stride?: number; pad?: number; bias?: boolean } = {},
  ) {
    super();
    this.weight = this.parameter('weight', kaimingUniform([outChannels, inChannels, kernel, kernel], inChannels * kernel * kernel, seeds));
    this.bias = options.bias === false ? undefined : this.parameter('bias', zeroBias(outChannels));
  }

  /**
   * With leakySlope, LeakyReLU runs in the convolution's epilogue (one pass instead of two).
   * withoutBias leaves the bias out, for a layer after it that adds it itself (SepBN in training).
   */
  forward(x: Tensor, leakySlope?: number, withoutBias = false): Tensor {
    const bias = withoutBias ? undefined : this.bias;
    return conv2d(x, this.weight, { bias, stride: this.options.stride ?? 1, pad: this.options.pad ?? 0, leakySlope });
  }
}
