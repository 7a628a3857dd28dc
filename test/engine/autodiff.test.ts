import t from 'tap';
import { backward, zeroGrad } from '../../engine/autodiff.ts';
import { ones, tensor, uniform } from '../../engine/create.ts';
import { add, leakyRelu, mul, scale } from '../../engine/ops/arith.ts';
import { sum } from '../../engine/ops/reduce.ts';
import { scope } from '../../engine/scope.ts';
import { noGrad } from '../../engine/tensor.ts';

t.test('gradients accumulate over fan-out and across backward calls', async (t) => {
  const x = tensor([1, -2, 3], [3], { backend: 'cpu', requiresGrad: true }).keep();
  // y = sum(x*x + 3x): dy/dx = 2x + 3
  const y = sum(add(mul(x, x), scale(x, 3)));
  backward(y);
  t.same(Array.from(await x.grad!.toArray()), [5, -1, 9]);
  backward(sum(scale(x, 2)));
  t.same(Array.from(await x.grad!.toArray()), [7, 1, 11], 'a second backward adds, as in PyTorch');
  zeroGrad([x]);
  t.equal(x.grad, null);
});

t.test('reshape is a view and carries the gradient', async (t) => {
  const x = uniform([2, 6], -1, 1, { seed: 3, backend: 'cpu', requiresGrad: true });
  const v = x.reshape([3, -1]);
  t.same(v.shape, [3, 4]);
  t.equal(v.storage, x.storage, 'same storage');
  backward(sum(mul(v, v)));
  const xs = await x.toArray();
  const gs = await x.grad!.toArray();
  t.same(Array.from(gs), Array.from(xs, (v) => 2 * v));
  t.throws(() => x.reshape([5, 3]), /cannot view \[2,6\]/);
});

t.test('no-grad scope records nothing; backward on a non-scalar needs a gradient', async (t) => {
  const x = ones([2, 2], { backend: 'cpu', requiresGrad: true });
  const y = noGrad(() => leakyRelu(x));
  t.equal(y.requiresGrad, false);
  t.equal(y.node, null);
  const z = leakyRelu(x);
  t.throws(() => backward(z), /not a scalar/);
  t.throws(() => backward(y), /does not require grad/);
});

t.test('scopes dispose what they created except kept and returned tensors', async (t) => {
  const kept = ones([2], { backend: 'cpu' }).keep();
  let inner: ReturnType<typeof ones> | undefined;
  const result = scope(() => {
    inner = ones([2], { backend: 'cpu' });
    return add(inner, kept);
  });
  t.ok(inner!.disposed, 'intermediate disposed');
  t.notOk(kept.disposed, 'kept tensor alive');
  t.notOk(result.disposed, 'returned tensor alive');
  t.same(Array.from(await result.toArray()), [2, 2]);
  await t.rejects(inner!.toArray(), /was disposed/);
});

t.test('retainGrads exposes the gradient of every intermediate, in tape order', async (t) => {
  const x = tensor([0.5, -1], [2], { backend: 'cpu', requiresGrad: true });
  const h = leakyRelu(x);
  const y = sum(scale(h, 4));
  const visited: string[] = [];
  backward(y, { retainGrads: true, onNode: (node) => visited.push(node.label) });
  t.same(Array.from(await h.grad!.toArray()), [4, 4]);
  t.same(Array.from(await x.grad!.toArray()), [4, 0.04]);
  t.same(visited, ['sum', 'affine', 'leaky_relu', 'tensor']);
});
