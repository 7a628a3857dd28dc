// What the generic witness test (test/ops/witness.test.ts) and `cli/gradcheck.js` check for each op:
// cases of inputs and a call; CPU gradients against Float64 central differences, then WebGPU
// forward and backward against the CPU.
import type { Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import type { Random } from '../random.ts';

export interface WitnessInput {
  shape: Shape;
  /** Shown in the table (e.g. 'gamma_1', 'fc1'); default x0, x1, ... */
  name?: string;
  /** How values are drawn; default standard normal. */
  draw?: (rng: Random, index: number) => number;
  /** Whether to check the gradient for this input (default true). */
  differentiable?: boolean;
}

export interface WitnessCase {
  /** Shown in the table, e.g. '[3,5]+[5]'. */
  label: string;
  inputs: WitnessInput[];
  /** The op under test; may be a composition of ops. Returns its differentiable result. */
  call: (inputs: Tensor[]) => Tensor;
  /** Max |gpu - cpu| allowed, relative to max |cpu| of each compared tensor (default 1e-5). */
  gpuTolerance?: number;
}

export interface OpWitness {
  /** The defined op under test (OpDef.name), or with `composite` the public function's name. */
  op: string;
  /** Set for a function composed of other ops (mean, l1_loss), which defines no op of its own. */
  composite?: boolean;
  cases: WitnessCase[];
}

/** Draws away from a kink (abs, leaky_relu) so central differences do not straddle it. */
export const awayFromZero = (rng: Random): number => (rng.next() < 0.5 ? -1 : 1) * rng.uniform(0.1, 2);
/** Draws a positive value (denominators, variances). */
export const positive = (rng: Random): number => rng.uniform(0.5, 2);
