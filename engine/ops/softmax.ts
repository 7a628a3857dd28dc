// Softmax along one axis with a temperature T: y_k = exp(x_k / T) / sum_j exp(x_j / T).
// Backward (for the attention of SepBN): dx_k = y_k (dy_k - sum_j dy_j y_j) / T.
import { normaliseAxes, sizeOf, type Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { elementwiseGrid } from '../webgpu/grid.ts';
import { defineUniformStruct } from '../webgpu/launch.ts';
import { apply, defineOp, type GpuView } from './op.ts';
import type { OpWitness } from './witness.ts';

interface SoftmaxAttrs {
  axis: number;
  temperature: number;
}

const WORKGROUP = 64;

/** The uniform struct of softmax.wgsl and softmax_backward.wgsl. */
const SoftmaxParams = defineUniformStruct('SoftmaxParams', [
  ['rows', 'u32'],
  ['n', 'u32'],
  ['inner', 'u32'],
  ['invTemperature', 'f32'],
  ['rowStride', 'u32'],
]);

function rows(shape: Shape, axis: number) {
  const n = shape[axis];
  const inner = sizeOf(shape.slice(axis + 1));
  return { n, inner, count: sizeOf(shape) / Math.max(n, 1) };
}

function softmaxLaunch(kernel: string, shape: Shape, { axis, temperature }: SoftmaxAttrs, access: Array<'read' | 'read_write'>) {
  const r = rows(shape, axis);
  const grid = elementwiseGrid(r.count, WORKGROUP);
  return {
    kernel,
    constants: { WORKGROUP_SIZE: WORKGROUP },
    access,
    uniforms: SoftmaxParams.pack({ rows: r.count, n: r.n, inner: r.inner, invTemperature: 1 / temperature, rowStride: grid.rowStride }),
    workgroups: grid.workgroups,
    describe: `${kernel} [${shape}] axis ${axis} T=${temperature}`,
  };
}

export const softmaxBackwardOp = defineOp<SoftmaxAttrs>({
  name: 'softmax_backward',
  inputs: ['y', 'grad'],
  outputShapes: ([y]) => [y],
  cpu: ([y, dy], [dx], { axis, temperature }) => {
    const r = rows(y.shape, axis);
    for (let row = 0; row < r.count; row++) {
      const base = Math.floor(row / r.inner) * r.n * r.inner + (row % r.inner);
      let dot = 0;
      for (let k = 0; k < r.n; k++) dot += dy.data[base + k * r.inner] * y.data[base + k * r.inner];
      for (let k = 0; k < r.n; k++) {
        const i = base + k * r.inner;
        dx.data[i] = (y.data[i] * (dy.data[i] - dot)) / temperature;
      }
    }
  },
  webgpu: (rt, [y, dy], [dx], attrs) =>
    rt.dispatch(softmaxLaunch('softmax_backward', y.shape, attrs, ['read', 'read', 'read_write']), [y.buffer, dy.buffer, dx.buffer]),
});

export const softmaxOp = defineOp<SoftmaxAttrs>({
  name: 'softmax',
  inputs: ['x'],
  outputShapes: ([x]) => [x],
  cpu: ([x], [y], { axis, temperature }) => {
    const r = rows(x.shape, axis);
    for (let row = 0; row < r.count; row++) {
      const base = Math.floor(row / r.inner) * r.n * r.inner + (row % r.inner);
      let m = -Infinity;
      for (let k = 0; k < r.n; k++) m = Math.max(m, x.data[base + k * r.inner]);
      let total = 0;
      for (let k = 0; k < r.n; k++) total += Math.exp((x.data[base + k * r.inner] - m) / temperature);
      for (let k = 0; k < r.n; k++) y.data[base + k * r.inner] = Math.exp((x.data[base + k * r.inner] - m) / temperature) / total;
    }
  },
  webgpu: (rt, [x]: GpuView[], [y]: GpuView[], attrs) => rt.dispatch(softmaxLaunch('softmax', x.shape, attrs, ['read', 'read_write']), [x.buffer, y.buffer]),
  backward: ({ grad, outputs: [y], attrs }) => [apply(softmaxBackwardOp, [y, grad], attrs)],
});

/** Softmax of x / temperature along `axis`. */
export function softmax(x: Tensor, axis = -1, temperature = 1): Tensor {
  if (!(temperature > 0)) throw new Error(`softmax: temperature must be positive, got ${temperature}`);
  const [a] = normaliseAxes('softmax', axis, x.rank);
  return apply(softmaxOp, [x], { axis: a, temperature });
}

export const witnesses: OpWitness[] = [
  {
    op: 'softmax',
    cases: [
      { label: '[5,3] axis 1 T=1', inputs: [{ shape: [5, 3] }], call: ([x]) => softmax(x, 1) },
      { label: '[2,3,4] axis 1 T=30', inputs: [{ shape: [2, 3, 4] }], call: ([x]) => softmax(x, 1, 30) },
      { label: '[4,7] axis 0 T=0.5', inputs: [{ shape: [4, 7] }], call: ([x]) => softmax(x, 0, 0.5) },
    ],
  },
];
