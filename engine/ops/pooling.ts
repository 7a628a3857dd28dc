// Pooling: max_pool2d (forward records which input element won each window; backward routes each
// gradient to that first maximum, as PyTorch does) and global average pooling (a mean over H, W,
// whose gradient spreads g / (H*W) evenly, from the mean op's own rule).
import { formatShape, type Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { maxPool2dBackwardLaunch, maxPool2dForwardLaunch, maxPool2dOutputSize, type MaxPool2dProblem } from './max-pool2d-launch.ts';
import { apply, applyAll, defineOp, type CpuView } from './op.ts';
import { mean } from './reduce.ts';
import type { OpWitness } from './witness.ts';

export interface MaxPool2dAttrs {
  kernel: number;
  stride: number;
  pad: number;
}

function problem(x: Shape, { kernel, stride, pad }: MaxPool2dAttrs): MaxPool2dProblem {
  if (x.length !== 4) throw new Error(`max_pool2d: x must be NCHW, got ${formatShape(x)}`);
  return { N: x[0], C: x[1], H: x[2], W: x[3], KH: kernel, KW: kernel, stride, pad };
}

/** dx[n,c,i] = sum of dy over the windows whose recorded maximum is input element i. */
export const maxPool2dBackwardOp = defineOp<MaxPool2dAttrs & { H: number; W: number }>({
  name: 'max_pool2d_backward',
  inputs: ['grad', 'argmax'],
  outputShapes: ([dy], { H, W }) => [[dy[0], dy[1], H, W]],
  cpu: ([dy, argmax], [dx]) => {
    const [N, C, Ho, Wo] = dy.shape;
    const plane = dx.shape[2] * dx.shape[3];
    dx.data.fill(0);
    for (let nc = 0; nc < N * C; nc++) {
      for (let o = 0; o < Ho * Wo; o++) dx.data[nc * plane + argmax.ints![nc * Ho * Wo + o]] += dy.data[nc * Ho * Wo + o];
    }
  },
  webgpu: (rt, [dy, argmax], [dx], attrs) => rt.dispatch(maxPool2dBackwardLaunch(problem(dx.shape, attrs)), [dy.buffer, argmax.buffer, dx.buffer]),
});

export const maxPool2dOp = defineOp<MaxPool2dAttrs>({
  name: 'max_pool2d',
  inputs: ['x'],
  outputDtypes: ['f32', 'i32'],
  outputShapes: ([x], attrs) => {
    const p = problem(x, attrs);
    const { Ho, Wo } = maxPool2dOutputSize(p);
    if (Ho < 1 || Wo < 1) throw new Error(`max_pool2d: a ${attrs.kernel}x${attrs.kernel} window does not fit x ${formatShape(x)}`);
    return [[p.N, p.C, Ho, Wo], [p.N, p.C, Ho, Wo]];
  },
  cpu: ([x], [y, argmax], attrs) => cpuMaxPool2d(x, y, argmax, attrs),
  webgpu: (rt, [x], [y, argmax], attrs) => rt.dispatch(maxPool2dForwardLaunch(problem(x.shape, attrs)), [x.buffer, y.buffer, argmax.buffer]),
  backward: ({ grad, inputs: [x], outputs: [, argmax], attrs }) => [
    apply(maxPool2dBackwardOp, [grad, argmax], { ...attrs, H: x.shape[2], W: x.shape[3] }),
  ],
});

/** Float64 max pooling with PyTorch's choice of argmax (also the normalisations' fused pooling's CPU side). */
export function cpuMaxPool2d(x: CpuView, y: CpuView, argmax: CpuView, attrs: MaxPool2dAttrs): void {
  const p = problem(x.shape, attrs);
  const { Ho, Wo } = maxPool2dOutputSize(p);
  for (let nc = 0; nc < p.N * p.C; nc++) {
    for (let oh = 0; oh < Ho; oh++) {
      for (let ow = 0; ow < Wo; ow++) {
        let best = -Infinity;
        let where = -1;
        for (let kh = 0; kh < p.KH; kh++) {
          const ih = oh * p.stride - p.pad + kh;
          if (ih < 0 || ih >= p.H) continue;
          for (let kw = 0; kw < p.KW; kw++) {
            const iw = ow * p.stride - p.pad + kw;
            if (iw < 0 || iw >= p.W) continue;
            const v = x.data[(nc * p.H + ih) * p.W + iw];
            // Strictly greater keeps the first of equal maxima; any NaN takes over, as in PyTorch.
            if (where < 0 || v > best || Number.isNaN(v)) {
              best = v;
              where = ih * p.W + iw;
            }
          }
        }
        const o = (nc * Ho + oh) * Wo + ow;
        y.data[o] = best;
        argmax.ints![o] = where;
      }
    }
  }
}

/** PyTorch's MaxPool2d(kernel, stride = kernel, padding). */
export function maxPool2d(x: Tensor, kernel = 2, stride = kernel, pad = 0): Tensor {
  return applyAll(maxPool2dOp, [x], { kernel, stride, pad })[0];
}

/** adaptive_avg_pool2d(x, 1): the mean over H and W, keeping [N, C, 1, 1]. */
export function globalAvgPool2d(x: Tensor): Tensor {
  if (x.rank !== 4) throw new Error(`globalAvgPool2d: x must be NCHW, got ${formatShape(x.shape)}`);
  return mean(x, [2, 3], true);
}

/** Distinct values, so no window has a near-tie that finite differences would straddle. */
const distinct = (rng: { next(): number }, i: number) => (i * 0.37) % 5 + rng.next() * 0.01;

export const witnesses: OpWitness[] = [
  {
    op: 'max_pool2d',
    cases: [
      { label: '2x2 s2 x[2,3,8,6] (model)', inputs: [{ shape: [2, 3, 8, 6], draw: distinct }], call: ([x]) => maxPool2d(x) },
      { label: '2x2 s2 x[1,2,7,5] (odd size)', inputs: [{ shape: [1, 2, 7, 5], draw: distinct }], call: ([x]) => maxPool2d(x) },
      { label: '3x3 s2 p1 x[2,2,7,9] (overlapping)', inputs: [{ shape: [2, 2, 7, 9], draw: distinct }], call: ([x]) => maxPool2d(x, 3, 2, 1) },
    ],
  },
  {
    op: 'global_avg_pool2d',
    composite: true,
    cases: [{ label: 'x[3,5,4,7]', inputs: [{ shape: [3, 5, 4, 7] }], call: ([x]) => globalAvgPool2d(x) }],
  },
];
