import { linear } from '../../engine/ops/matmul.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { kaimingUniform, zeroBias, type InitSeeds } from '../init.ts';
import { Module } from '../module.ts';

/** torch.nn.Linear: y = x · weightᵀ + bias, weight [out, in]. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(readonly inFeatures: number, readonly outFeatures: number, seeds: InitSeeds) {
    super();
    this.weight = this.parameter('weight', kaimingUniform([outFeatures, inFeatures], inFeatures, seeds));
    this.bias = this.parameter('bias', zeroBias(outFeatures));
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
