// Max pooling's choices where finite differences cannot look: ties and NaN, on both backends.
import t, { type Test } from 'tap';
import { backward } from '../../engine/autodiff.ts';
import { useBackend } from '../../engine/backend.ts';
import { tensor } from '../../engine/create.ts';
import { applyAll } from '../../engine/ops/op.ts';
import { maxPool2dOp } from '../../engine/ops/pooling.ts';
import { scope } from '../../engine/scope.ts';
import type { BackendName } from '../../engine/tensor.ts';
import { withGpu } from '../gpu.ts';

// One 4x4 plane: window (0,0) is all ties, window (0,1) holds two NaNs, window (1,0) a tie of 7s.
const plane = [
  1, 1, NaN, 2,
  1, 1, 3, NaN,
  7, 0, 5, 6,
  7, 7, 4, 6,
];

async function pool(backend: BackendName) {
  return scope(async () => {
    const x = tensor(plane, [1, 1, 4, 4], { backend, requiresGrad: true });
    const [y, argmax] = applyAll(maxPool2dOp, [x], { kernel: 2, stride: 2, pad: 0 });
    backward(y, { grad: tensor([10, 20, 30, 40], [1, 1, 2, 2], { backend }) });
    return { y: Array.from(await y.toArray()), argmax: Array.from(await argmax.toArray()), dx: Array.from(await x.grad!.toArray()) };
  });
}

function expectPyTorchChoices(t: Test, r: Awaited<ReturnType<typeof pool>>) {
  t.same(r.argmax, [0, 7, 8, 11], 'first of tied maxima; the last NaN of a window; first 7; first 6');
  t.ok(Number.isNaN(r.y[1]), 'NaN propagates');
  t.same([r.y[0], r.y[2], r.y[3]], [1, 7, 6]);
  const dx = new Array(16).fill(0);
  dx[0] = 10; dx[7] = 20; dx[8] = 30; dx[11] = 40;
  t.same(r.dx, dx, 'each gradient goes to the chosen element only');
}

t.test('CPU reference', async (t) => expectPyTorchChoices(t, await pool('cpu')));

t.test('WebGPU', async (t) => {
  if (!(await withGpu(t))) return;
  await useBackend('webgpu');
  expectPyTorchChoices(t, await pool('webgpu'));
  await useBackend('cpu');
});
