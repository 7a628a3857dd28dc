// Ops that rearrange values without arithmetic: permute, and stack / unstack along a new first
// axis. Their gradients are the inverse rearrangements.
import { formatShape, sameShape, sizeOf, stridesOf } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { apply, applyAll, defineOp } from './op.ts';
import { cpuStridedCopy, gpuStridedCopy } from './strided-copy.ts';
import type { OpWitness } from './witness.ts';

export const permuteOp = defineOp<{ order: number[] }>({
  name: 'permute',
  inputs: ['x'],
  outputShapes: ([x], { order }) => {
    const valid = order.length === x.length && [...order].sort((a, b) => a - b).every((a, i) => a === i);
    if (!valid) throw new Error(`permute: order [${order}] is not a permutation of the ${x.length} axes of ${formatShape(x)}`);
    return [order.map((a) => x[a])];
  },
  cpu: ([x], [out], { order }) => cpuStridedCopy(x, out, order.map((a) => stridesOf(x.shape)[a])),
  webgpu: (rt, [x], [out], { order }) =>
    gpuStridedCopy(rt, x, out, order.map((a) => stridesOf(x.shape)[a]), `permute [${x.shape}] by [${order}]`),
  backward: ({ grad, attrs: { order } }) => {
    const inverse = new Array<number>(order.length);
    order.forEach((a, i) => (inverse[a] = i));
    return [permute(grad, inverse)];
  },
});

/** out[k] = inputs[k]: K tensors of one shape become one [K, ...shape]. */
export const stackOp = defineOp<Record<string, never>>({
  name: 'stack',
  inputs: ['x0', 'x1?', 'x2?', 'x3?', 'x4?', 'x5?', 'x6?', 'x7?'],
  outputShapes: (shapes) => {
    shapes.forEach((s, i) => {
      if (!sameShape(s, shapes[0])) throw new Error(`stack: input ${i} has shape ${formatShape(s)}, input 0 has ${formatShape(shapes[0])}`);
    });
    return [[shapes.length, ...shapes[0]]];
  },
  cpu: (inputs, [out]) => inputs.forEach((x, k) => out.data.set(x.data.subarray(0, x.data.length), k * sizeOf(x.shape))),
  webgpu: (rt, inputs, [out]) => {
    inputs.forEach((x, k) => rt.copy(x.buffer, 0, out.buffer, k * sizeOf(x.shape) * 4, sizeOf(x.shape) * 4));
  },
  backward: ({ grad, inputs }) => applyAll(unstackOp, [grad], { count: inputs.length }),
});

/** The inverse of stack: [K, ...shape] into K tensors of shape. */
export const unstackOp = defineOp<{ count: number }>({
  name: 'unstack',
  inputs: ['x'],
  outputShapes: ([x], { count }) => {
    if (x[0] !== count) throw new Error(`unstack: first axis of ${formatShape(x)} is not ${count}`);
    return Array.from({ length: count }, () => x.slice(1));
  },
  cpu: ([x], outputs) => {
    outputs.forEach((out, k) => out.data.set(x.data.subarray(k * out.data.length, (k + 1) * out.data.length)));
  },
  webgpu: (rt, [x], outputs) => {
    outputs.forEach((out, k) => {
      const bytes = sizeOf(out.shape) * 4;
      rt.copy(x.buffer, k * bytes, out.buffer, 0, bytes);
    });
  },
});

export function permute(x: Tensor, order: number[]): Tensor {
  return apply(permuteOp, [x], { order });
}

export function stack(tensors: Tensor[]): Tensor {
  if (tensors.length < 1 || tensors.length > stackOp.inputs.length) throw new Error(`stack: takes 1 to ${stackOp.inputs.length} tensors, got ${tensors.length}`);
  return apply(stackOp, tensors, {});
}

export const witnesses: OpWitness[] = [
  { op: 'permute', cases: [{ label: '[2,3,4] -> [1,0,2]', inputs: [{ shape: [2, 3, 4] }], call: ([x]) => permute(x, [1, 0, 2]) }] },
  {
    op: 'stack',
    cases: [{ label: '3 x [5]', inputs: [{ shape: [5] }, { shape: [5] }, { shape: [5] }], call: (xs) => stack(xs) }],
  },
];
