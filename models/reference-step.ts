// One train-mode forward and backward of a network on one batch, with every value a comparison
// against another framework needs, as named host arrays: what `node cli/grads.js` writes, and
// what the PyTorch golden files (test/fixtures/golden/) hold under the same names.
import { backward, zeroGrad } from '../engine/autodiff.ts';
import { tensor } from '../engine/create.ts';
import { l1Loss } from '../engine/ops/loss.ts';
import { scope } from '../engine/scope.ts';
import { noGrad, type Tensor } from '../engine/tensor.ts';
import { createOptimizer, TRAINING_DEFAULTS } from '../nn/optim/optimizer.ts';
import type { NamedArray } from '../nn/safetensors.ts';
import { toNamedArrays } from '../nn/state-dict.ts';
import { batchSizeOf, type LandmarkBatch } from './trainer.ts';
import { INPUT_SIZE, LANDMARKS, type VanillaCnn } from './vanilla-cnn.ts';

export type ReferenceOptimizer = keyof typeof TRAINING_DEFAULTS;

/**
 * eval_output [N,196] (eval mode, the weights and running statistics as given), then one
 * train-mode step: loss [1] (the trainer's L1 loss, a mean), output [N,196], grad.<name> for every
 * parameter, buffer.<name> for every running statistic and count after that forward, and with an
 * optimizer <optimizer>.<name>: the parameters after one step with the commands' default settings.
 * The network is left in train mode with its buffers (and, with an optimizer, its weights) updated.
 */
export async function referenceStep(net: VanillaCnn, batch: LandmarkBatch, optimizer?: ReferenceOptimizer): Promise<Array<[string, NamedArray]>> {
  const n = batchSizeOf(batch);
  const out: Array<[string, NamedArray]> = [];
  const add = async (prefix: string, entries: Parameters<typeof toNamedArrays>[0]) => {
    for (const [name, a] of await toNamedArrays(entries)) out.push([`${prefix}${name}`, a]);
  };
  await scope(async () => {
    const images = tensor(batch.images, [n, 3, INPUT_SIZE, INPUT_SIZE], { label: 'images' });
    const landmarks = tensor(batch.landmarks, [n, 2 * LANDMARKS], { label: 'landmarks' });
    net.eval();
    await add('', [['eval_output', noGrad(() => net.forward(images))]]);
    net.train();
    // This step's gradients alone, whatever an earlier step left on the parameters.
    zeroGrad(net.namedParameters().map(([, p]) => p));
    const output = net.forward(images);
    const loss = l1Loss(output, landmarks);
    backward(loss);
    await add('', [['loss', loss.reshape([1])], ['output', output]]);
    await add('grad.', net.namedParameters().map(([name, p]): [string, Tensor] => {
      if (!p.grad) throw new Error(`no gradient reached ${name}`);
      return [name, p.grad];
    }));
    await add('buffer.', net.namedBuffers());
    if (optimizer) {
      createOptimizer(optimizer, net.namedParameters(), { ...TRAINING_DEFAULTS[optimizer] }).step();
      await add(`${optimizer}.`, net.namedParameters());
    }
  });
  return out;
}
