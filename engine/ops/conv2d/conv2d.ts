// 2-D convolution, NCHW input and OIHW weight, optional bias and fused LeakyReLU, zero padding,
// dilation 1. On the GPU each pass is an implicit GEMM (shaders/conv2d/; plan.ts says which kernel each pass takes).
//
// Backward, with z = conv(x, w) + b, y = act(z) and g = dL/dy:
//   dz = g (no activation) or g * (y > 0 ? 1 : slope)   (y and z have the same sign for slope > 0)
//   dx[n,ci,h,w]    = sum_{co,kh,kw} dz[n,co,oh,ow] w[co,ci,kh,kw]  where h = oh*s - p + kh, w = ow*s - p + kw
//   dw[co,ci,kh,kw] = sum_{n,oh,ow}  dz[n,co,oh,ow] x[n,ci,oh*s - p + kh, ow*s - p + kw]
//   db[co]          = sum_{n,oh,ow}  dz[n,co,oh,ow]
import { formatShape, type Shape } from '../../shape.ts';
import type { Tensor } from '../../tensor.ts';
import { dispatchSplitPlan } from '../../webgpu/split-plan.ts';
import { leakyReluBackwardOp } from '../arith.ts';
import { planConv2dBackwardInput, planConv2dBackwardWeight, planConv2dForward } from './plan.ts';
import { conv2dOutputSize, type Conv2dProblem } from './problem.ts';
import { apply, defineOp } from '../op.ts';
import { sum } from '../reduce.ts';
import type { OpWitness } from '../witness.ts';

export interface Conv2dAttrs {
  stride: number;
  pad: number;
  activation: 'none' | 'leaky_relu';
  slope: number;
}

function problem(op: string, x: Shape, w: Shape, bias: Shape | undefined, a: Conv2dAttrs): Conv2dProblem {
  if (x.length !== 4) throw new Error(`${op}: x must be NCHW, got ${formatShape(x)}`);
  if (w.length !== 4) throw new Error(`${op}: weight must be OIHW, got ${formatShape(w)}`);
  if (w[1] !== x[1]) throw new Error(`${op}: weight ${formatShape(w)} expects ${w[1]} input channels, x ${formatShape(x)} has ${x[1]}`);
  if (bias && (bias.length !== 1 || bias[0] !== w[0])) throw new Error(`${op}: bias must be [${w[0]}], got ${formatShape(bias)}`);
  return { N: x[0], Ci: x[1], H: x[2], W: x[3], Co: w[0], KH: w[2], KW: w[3], stride: a.stride, pad: a.pad, hasBias: !!bias, activation: a.activation, slope: a.slope };
}


/** Calls f(h, w) for each tap of output (oh, ow) that lands inside the input, with its kernel offsets. */
function forEachTap(p: Conv2dProblem, oh: number, ow: number, f: (ih: number, iw: number, kh: number, kw: number) => void): void {
  for (let kh = 0; kh < p.KH; kh++) {
    const ih = oh * p.stride - p.pad + kh;
    if (ih < 0 || ih >= p.H) continue;
    for (let kw = 0; kw < p.KW; kw++) {
      const iw = ow * p.stride - p.pad + kw;
      if (iw >= 0 && iw < p.W) f(ih, iw, kh, kw);
    }
  }
}

export const conv2dBackwardInputOp = defineOp<Conv2dAttrs & { H: number; W: number }>({
  name: 'conv2d_backward_input',
  inputs: ['grad', 'weight'],
  outputShapes: ([dy, w], { H, W }) => [[dy[0], w[1], H, W]],
  cpu: ([dy, w], [dx], a) => {
    const p = problem('conv2d_backward_input', dx.shape, w.shape, undefined, a);
    const { Ho, Wo } = conv2dOutputSize(p);
    dx.data.fill(0);
    for (let n = 0; n < p.N; n++) for (let co = 0; co < p.Co; co++) for (let oh = 0; oh < Ho; oh++) for (let ow = 0; ow < Wo; ow++) {
      const g = dy.data[((n * p.Co + co) * Ho + oh) * Wo + ow];
      for (let ci = 0; ci < p.Ci; ci++) {
        forEachTap(p, oh, ow, (ih, iw, kh, kw) => {
          dx.data[((n * p.Ci + ci) * p.H + ih) * p.W + iw] += g * w.data[((co * p.Ci + ci) * p.KH + kh) * p.KW + kw];
        });
      }
    }
  },
  webgpu: (rt, [dy, w], [dx], a) => {
    const p = problem('conv2d_backward_input', dx.shape, w.shape, undefined, a);
    dispatchSplitPlan(rt, planConv2dBackwardInput(p, rt.kernels), [dy.buffer, w.buffer], dx.buffer, 'conv2d input-gradient');
  },
});

export const conv2dBackwardWeightOp = defineOp<Conv2dAttrs & { KH: number; KW: number }>({
  name: 'conv2d_backward_weight',
  inputs: ['x', 'grad'],
  outputShapes: ([x, dy], { KH, KW }) => [[dy[1], x[1], KH, KW]],
  cpu: ([x, dy], [dw], a) => {
    const p = problem('conv2d_backward_weight', x.shape, dw.shape, undefined, a);
    const { Ho, Wo } = conv2dOutputSize(p);
    dw.data.fill(0);
    for (let n = 0; n < p.N; n++) for (let co = 0; co < p.Co; co++) for (let oh = 0; oh < Ho; oh++) for (let ow = 0; ow < Wo; ow++) {
      const g = dy.data[((n * p.Co + co) * Ho + oh) * Wo + ow];
      for (let ci = 0; ci < p.Ci; ci++) {
        forEachTap(p, oh, ow, (ih, iw, kh, kw) => {
          dw.data[((co * p.Ci + ci) * p.KH + kh) * p.KW + kw] += g * x.data[((n * p.Ci + ci) * p.H + ih) * p.W + iw];
        });
      }
    }
  },
  webgpu: (rt, [x, dy], [dw], a) => {
    const p = problem('conv2d_backward_weight', x.shape, dw.shape, undefined, a);
    dispatchSplitPlan(rt, planConv2dBackwardWeight(p, rt.kernels), [x.buffer, dy.buffer], dw.buffer, 'conv2d weight-gradient');
  },
});

export const conv2dOp = defineOp<Conv2dAttrs>({
  name: 'conv2d',
  inputs: ['x', 'weight', 'bias?'],
  outputShapes: ([x, w, b], a) => {
    const p = problem('conv2d', x, w, b, a);
    const { Ho, Wo } = conv2dOutputSize(p);
    if (Ho < 1 || Wo < 1) throw new Error(`conv2d: a ${p.KH}x${p.KW} kernel with pad ${p.pad} does not fit x ${formatShape(x)}`);
    return [[p.N, p.Co, Ho, Wo]];
  },
  cpu: ([x, w, b], [y], a) => {
    const p = problem('conv2d', x.shape, w.shape, b?.shape, a);
    const { Ho, Wo } = conv2dOutputSize(p);
    for (let n = 0; n < p.N; n++) for (let co = 0; co < p.Co; co++) for (let oh = 0; oh < Ho; oh++) for (let ow = 0; ow < Wo; ow++) {
      let acc = b ? b.data[co] : 0;
      for (let ci = 0; ci < p.Ci; ci++) {
        forEachTap(p, oh, ow, (ih, iw, kh, kw) => {
          acc += x.data[((n * p.Ci + ci) * p.H + ih) * p.W + iw] * w.data[((co * p.Ci + ci) * p.KH + kh) * p.KW + kw];
        });
      }
      y.data[((n * p.Co + co) * Ho + oh) * Wo + ow] = a.activation === 'leaky_relu' && acc <= 0 ? acc * a.slope : acc;
    }
  },
  webgpu: (rt, [x, w, b], [y], a) => {
    const p = problem('conv2d', x.shape, w.shape, b?.shape, a);
    dispatchSplitPlan(rt, planConv2dForward(p, rt.kernels), [x.buffer, w.buffer, b?.buffer ?? rt.placeholder], y.buffer, 'conv2d forward');
  },
  backward: ({ grad, inputs: [x, w, b], outputs: [y], attrs, needs }) => {
    const dz = attrs.activation === 'leaky_relu' ? apply(leakyReluBackwardOp, [y, grad], { slope: attrs.slope }) : grad;
    return [
      needs[0] ? apply(conv2dBackwardInputOp, [dz, w], { ...attrs, H: x.shape[2], W: x.shape[3] }) : null,
      needs[1] ? apply(conv2dBackwardWeightOp, [x, dz], { ...attrs, KH: w.shape[2], KW: w.shape[3] }) : null,
      needs[2] && b ? sum(dz, [0, 2, 3]) : null,
    ];
  },
});

export interface Conv2dOptions {
  bias?: Tensor;
  stride?: number;
  pad?: number;
  /** Fuse a LeakyReLU with this negative slope into the output. */
  leakySlope?: number;
}

export function conv2d(x: Tensor, weight: Tensor, options: Conv2dOptions = {}): Tensor {
  const attrs: Conv2dAttrs = {
    stride: options.stride ?? 1,
    pad: options.pad ?? 0,
    activation: options.leakySlope === undefined ? 'none' : 'leaky_relu',
    slope: options.leakySlope ?? 0,
  };
  return apply(conv2dOp, options.bias ? [x, weight, options.bias] : [x, weight], attrs);
}

const convCase = (label: string, x: number[], w: number[], options: Omit<Conv2dOptions, 'bias'> & { bias?: boolean }) => ({
  label,
  inputs: [
    { shape: x, name: 'x' },
    { shape: w, name: 'weight' },
    ...(options.bias ? [{ shape: [w[0]], name: 'bias' }] : []),
  ],
  call: ([xt, wt, bt]: Tensor[]) => conv2d(xt, wt, { ...options, bias: bt }),
});

export const witnesses: OpWitness[] = [
  {
    op: 'conv2d',
    cases: [
      convCase('3x3 s1 p1 x[2,5,9,11] -> 7 (model layer)', [2, 5, 9, 11], [7, 5, 3, 3], { pad: 1, bias: true }),
      convCase('1x1 x[3,6,4,5] -> 4 (attention fc)', [3, 6, 4, 5], [4, 6, 1, 1], {}),
      convCase('5x5 s2 p2 x[1,3,9,8] -> 2', [1, 3, 9, 8], [2, 3, 5, 5], { stride: 2, pad: 2, bias: true }),
      convCase('2x3 s1 p0 x[2,2,5,6] -> 3', [2, 2, 5, 6], [3, 2, 2, 3], {}),
      convCase('3x3 s1 p1 x[2,3,25,23] -> 5 (split-K weight gradient)', [2, 3, 25, 23], [5, 3, 3, 3], { pad: 1, bias: true }),
      convCase('3x3 s1 p1 x[1,3,9,10] -> 36 (K = 27 staged in one k step, 64x32 weight-gradient tile)', [1, 3, 9, 10], [36, 3, 3, 3], { pad: 1, bias: true }),
      convCase('3x3 s1 p1 x[1,8,5,6] -> 70 (128x128 weight-gradient tiles)', [1, 8, 5, 6], [70, 8, 3, 3], { pad: 1 }),
      convCase('3x3 s1 p1 + bias + leaky_relu x[2,4,6,7] -> 70 (crosses a 64 tile)', [2, 4, 6, 7], [70, 4, 3, 3], { pad: 1, bias: true, leakySlope: 0.01 }),
      // Rows a multiple of 4 wide: the subgroup kernels on lavapipe, with 8 and 4 pixels per lane,
      // 1, 2 and 4 rows of weights per lane, and bands that end past the last channel.
      convCase('3x3 s1 p1 + bias + leaky_relu x[2,5,5,8] -> 7 (subgroup kernels)', [2, 5, 5, 8], [7, 5, 3, 3], { pad: 1, bias: true, leakySlope: 0.01 }),
      convCase('3x3 s1 p1 x[3,12,3,4] -> 20 (subgroup kernels, 4-pixel rows)', [3, 12, 3, 4], [20, 12, 3, 3], { pad: 1, bias: true }),
      convCase('3x3 s1 p1 x[1,36,4,12] -> 3 (subgroup kernels)', [1, 36, 4, 12], [3, 36, 3, 3], { pad: 1 }),
      convCase('3x3 s1 p1 + bias + leaky_relu x[2,3,4,8] -> 70 (narrow forward, two bands)', [2, 3, 4, 8], [70, 3, 3, 3], { pad: 1, bias: true, leakySlope: 0.01 }),
    ].map((c) => ({ ...c, gpuTolerance: 2e-5 })),
  },
];
