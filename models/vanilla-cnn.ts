// The Vanilla CNN for 98 WFLW landmarks on 128x128 input: six [conv3x3 -> (BN | SepBN) ->
// LeakyReLU -> maxpool2x2] stages, 64..2048 channels (divided by the width divisor), then
// fc1 (8192 -> 2048) -> LeakyReLU -> fc2 (2048 -> 196). Without normalisation the LeakyReLU runs
// in the convolution's epilogue, otherwise in the normalisation's last pass.
import { leakyRelu } from '../engine/ops/arith.ts';
import { maxPool2d } from '../engine/ops/pooling.ts';
import { formatShape } from '../engine/shape.ts';
import type { Tensor } from '../engine/tensor.ts';
import { InitSeeds } from '../nn/init.ts';
import { BatchNorm2d } from '../nn/layers/batch-norm.ts';
import { Conv2d } from '../nn/layers/conv2d.ts';
import { Linear } from '../nn/layers/linear.ts';
import { SEPBN_DEFAULTS, SepBatchNorm2d, type SepBnConfig } from '../nn/layers/sep-batch-norm.ts';
import { Module } from '../nn/module.ts';

export type Norm = 'none' | 'bn' | 'sepbn';

export interface VanillaCnnConfig {
  norm: Norm;
  /** Channels are 64/width .. 2048/width and fc1 is 8192/width -> 2048/width. */
  width: number;
  sepbn: SepBnConfig;
  /** Seed of the initial weights. */
  seed: number;
}

export const INPUT_SIZE = 128;
export const LANDMARKS = 98;
export const FULL_CHANNELS = [64, 128, 256, 512, 1024, 2048];
export const FULL_HIDDEN = 2048;
export const LEAKY_SLOPE = 0.01;

export function defaultConfig(norm: Norm, width = 1, seed = 0): VanillaCnnConfig {
  return { norm, width, sepbn: { ...SEPBN_DEFAULTS }, seed };
}

export function stageChannels(width: number): number[] {
  const channels = FULL_CHANNELS.map((c) => c / width);
  if (!channels.every((c) => Number.isInteger(c) && c >= 1) || !Number.isInteger(FULL_HIDDEN / width)) {
    throw new Error(`width divisor ${width} does not divide the channel counts 64..2048 into whole numbers`);
  }
  return channels;
}

export class VanillaCnn extends Module {
  readonly convs: Conv2d[] = [];
  readonly norms: Array<BatchNorm2d | SepBatchNorm2d> = [];
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(readonly config: VanillaCnnConfig) {
    super();
    const seeds = new InitSeeds(config.seed);
    const channels = stageChannels(config.width);
    let inChannels = 3;
    channels.forEach((c, i) => {
      this.convs.push(this.child(`conv${i + 1}`, new Conv2d(inChannels, c, 3, seeds, { pad: 1 })));
      if (config.norm === 'bn') this.norms.push(this.child(`bn${i + 1}`, new BatchNorm2d(c)));
      if (config.norm === 'sepbn') this.norms.push(this.child(`bn${i + 1}`, new SepBatchNorm2d(c, config.sepbn, seeds)));
      inChannels = c;
    });
    const spatial = INPUT_SIZE >> channels.length; // 2x2 after six poolings
    this.fc1 = this.child('fc1', new Linear(inChannels * spatial * spatial, FULL_HIDDEN / config.width, seeds));
    this.fc2 = this.child('fc2', new Linear(FULL_HIDDEN / config.width, 2 * LANDMARKS, seeds));
    this.labelTensors();
  }

  /** The SepBN layers, whose temperature the trainer sets each epoch. */
  get sepBnLayers(): SepBatchNorm2d[] {
    return this.norms.filter((n): n is SepBatchNorm2d => n instanceof SepBatchNorm2d);
  }

  set temperature(t: number) {
    for (const layer of this.sepBnLayers) layer.temperature = t;
  }

  /** images [N, 3, 128, 128] (normalised pixels) -> landmarks [N, 196] (x y interleaved, 128-frame pixels). */
  forward(images: Tensor): Tensor {
    if (images.rank !== 4 || images.shape[1] !== 3 || images.shape[2] !== INPUT_SIZE || images.shape[3] !== INPUT_SIZE) {
      throw new Error(`VanillaCnn: images must be [N,3,${INPUT_SIZE},${INPUT_SIZE}], got ${formatShape(images.shape)}`);
    }
    let x = images;
    this.convs.forEach((conv, i) => {
      const norm = this.norms[i];
      // The LeakyReLU runs inside the last pass of the normalisation, or of the convolution;
      // the normalisation also ends with the max pooling (in training, in that same pass).
      if (norm instanceof SepBatchNorm2d && norm.training) {
        // SepBN in training takes the convolution's bias over: normalisation removes it from all
        // but the attention's pooled means, so its gradient comes from the attention's backward
        // pass instead of a reduction over the whole activation.
        x = norm.forward(conv.forward(x, undefined, true), LEAKY_SLOPE, true, conv.bias);
      } else {
        x = norm ? norm.forward(conv.forward(x), LEAKY_SLOPE, true) : maxPool2d(conv.forward(x, LEAKY_SLOPE), 2);
      }
    });
    const flat = x.reshape([x.shape[0], -1]);
    return this.fc2.forward(leakyRelu(this.fc1.forward(flat), LEAKY_SLOPE));
  }
}
