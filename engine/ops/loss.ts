// Losses, composed from primitive ops so their gradients need no code of their own.
import type { Tensor } from '../tensor.ts';
import { formatShape, sameShape } from '../shape.ts';
import { abs, sub } from './arith.ts';
import { mean } from './reduce.ts';
import type { OpWitness } from './witness.ts';
import { awayFromZero } from './witness.ts';

/** PyTorch's L1Loss with reduction 'mean': mean |prediction - target|. */
export function l1Loss(prediction: Tensor, target: Tensor): Tensor {
  if (!sameShape(prediction.shape, target.shape)) {
    throw new Error(`l1Loss: prediction ${formatShape(prediction.shape)} and target ${formatShape(target.shape)} differ`);
  }
  return mean(abs(sub(prediction, target)));
}

export const witnesses: OpWitness[] = [
  {
    op: 'l1_loss',
    composite: true,
    cases: [
      {
        label: '[3,196] vs target',
        inputs: [{ shape: [3, 196], draw: awayFromZero }, { shape: [3, 196], draw: () => 0 }],
        call: ([p, t]) => l1Loss(p, t),
      },
    ],
  },
];
