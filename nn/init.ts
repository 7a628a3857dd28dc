// Initialisation as the reference model: Kaiming-uniform weights (bound sqrt(6 / fan_in)), zero
// biases. Each tensor draws from its own seed, taken in construction order from one generator,
// so a model built twice from the same seed is identical on every backend.
import { uniform, zeros } from '../engine/create.ts';
import { Random } from '../engine/random.ts';
import type { Tensor } from '../engine/tensor.ts';

export class InitSeeds {
  private readonly rng: Random;

  constructor(seed: number) {
    this.rng = new Random(seed);
  }

  next(): number {
    return Math.floor(this.rng.next() * 2 ** 31);
  }
}

export function kaimingUniform(shape: number[], fanIn: number, seeds: InitSeeds): Tensor {
  const bound = Math.sqrt(6 / fanIn);
  return uniform(shape, -bound, bound, { seed: seeds.next() });
}

export function zeroBias(size: number): Tensor {
  return zeros([size]);
}
