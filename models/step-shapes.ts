// The shapes of the passes a training step runs, from a network's width and the batch size: each
// convolution layer's problem and each fully connected layer's three matmuls. What the GPU-fill
// report (gpu-fill.ts) plans and `node cli/bench.js suite` times, stated once.
import type { Conv2dProblem } from '../engine/ops/conv2d/problem.ts';
import type { MatmulProblem } from '../engine/ops/matmul-launch.ts';
import { FULL_CHANNELS, FULL_HIDDEN, INPUT_SIZE, LANDMARKS, LEAKY_SLOPE } from './vanilla-cnn.ts';

/** conv1..conv6 as the network runs them: 3x3, stride 1, pad 1, bias and LeakyReLU fused. */
export function convLayerProblems(width: number, batch: number): Array<{ name: string; problem: Conv2dProblem }> {
  const channels = FULL_CHANNELS.map((c) => c / width);
  return channels.map((co, i) => {
    const side = INPUT_SIZE >> i;
    const ci = i === 0 ? 3 : channels[i - 1];
    return {
      name: `conv${i + 1}`,
      problem: { N: batch, Ci: ci, H: side, W: side, Co: co, KH: 3, KW: 3, stride: 1, pad: 1, hasBias: true, activation: 'leaky_relu', slope: LEAKY_SLOPE },
    };
  });
}

/** fc1 and fc2's forward x·Wᵀ, input gradient g·W and weight gradient gᵀ·x. */
export function fullyConnectedPasses(width: number, batch: number): Array<{ name: string; problem: MatmulProblem }> {
  const channels = FULL_CHANNELS.map((c) => c / width);
  const hidden = FULL_HIDDEN / width;
  const flattened = channels[channels.length - 1] * (INPUT_SIZE >> channels.length) ** 2;
  return ([['fc1', flattened, hidden], ['fc2', hidden, 2 * LANDMARKS]] as const).flatMap(([layer, inputs, outputs]) => [
    { name: `${layer} forward`, problem: { M: batch, K: inputs, N: outputs, transB: true } },
    { name: `${layer} input gradient`, problem: { M: batch, K: outputs, N: inputs } },
    { name: `${layer} weight gradient`, problem: { M: outputs, K: batch, N: inputs, transA: true } },
  ]);
}
