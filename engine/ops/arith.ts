// Elementwise arithmetic: the broadcasting binary ops, the unary ops, and their gradients.
// Notation in the rules: z = f(x, y), g = dL/dz; broadcast inputs get their gradient summed back
// over the broadcast axes (sumTo).
import type { Shape } from '../shape.ts';
import { broadcastShapes, broadcastStrides, sizeOf } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { elementwiseGrid } from '../webgpu/grid.ts';
import { defineUniformStruct, type KernelLaunch } from '../webgpu/launch.ts';
import { apply, defineOp, type CpuView, type GpuView } from './op.ts';
import { sumTo } from './reduce.ts';
import { awayFromZero, positive, type OpWitness } from './witness.ts';

const MAX_RANK = 8;

/** The values of shaders/binary.wgsl's OP constant; the shader has one `case` for each and NaN for any other. */
export const BINARY_OP_CODES = { add: 0, sub: 1, mul: 2, div: 3, leaky_relu_backward: 4 } as const;
type BinaryKind = keyof typeof BINARY_OP_CODES;

const BinaryParams = defineUniformStruct('BinaryParams', [
  ['total', 'u32'],
  ['rank', 'u32'],
  ['alpha', 'f32'],
  ['rowStride', 'u32'],
  ['outShape', 'array<vec4<u32>, 2>'],
  ['aStrides', 'array<vec4<u32>, 2>'],
  ['bStrides', 'array<vec4<u32>, 2>'],
]);

/**
 * Merges neighbouring axes that both inputs traverse contiguously (or both broadcast), so the
 * common same-shape case becomes one flat loop and the kernel's index arithmetic stays short.
 */
export function collapseAxes(out: Shape, aStrides: number[], bStrides: number[]): { shape: number[]; a: number[]; b: number[] } {
  const shape: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  out.forEach((d, i) => {
    if (d === 1) return;
    const last = shape.length - 1;
    if (last >= 0 && a[last] === aStrides[i] * d && b[last] === bStrides[i] * d) {
      shape[last] *= d;
      a[last] = aStrides[i];
      b[last] = bStrides[i];
    } else {
      shape.push(d);
      a.push(aStrides[i]);
      b.push(bStrides[i]);
    }
  });
  if (shape.length === 0) return { shape: [1], a: [0], b: [0] };
  return { shape, a, b };
}

function binaryCpu(kind: BinaryKind, alpha: number) {
  const f: (x: number, y: number) => number = {
    add: (x: number, y: number) => x + y,
    sub: (x: number, y: number) => x - y,
    mul: (x: number, y: number) => x * y,
    div: (x: number, y: number) => x / y,
    leaky_relu_backward: (x: number, g: number) => (x > 0 ? g : g * alpha),
  }[kind];
  return ([a, b]: CpuView[], [out]: CpuView[]) => {
    const as = broadcastStrides(a.shape, out.shape);
    const bs = broadcastStrides(b.shape, out.shape);
    const n = sizeOf(out.shape);
    const rank = out.shape.length;
    for (let i = 0; i < n; i++) {
      let rest = i;
      let ia = 0;
      let ib = 0;
      for (let axis = rank - 1; axis >= 0; axis--) {
        const coord = rest % out.shape[axis];
        rest = Math.floor(rest / out.shape[axis]);
        ia += coord * as[axis];
        ib += coord * bs[axis];
      }
      out.data[i] = f(a.data[ia], b.data[ib]);
    }
  };
}

/** The binary kernel computing `kind` of a and b broadcast to out; binds a, b, out. */
export function binaryLaunch(kind: BinaryKind, a: Shape, b: Shape, out: Shape, alpha: number): KernelLaunch {
  const c = collapseAxes(out, broadcastStrides(a, out), broadcastStrides(b, out));
  if (c.shape.length > MAX_RANK) throw new Error(`${kind}: rank ${c.shape.length} after collapsing exceeds ${MAX_RANK}`);
  const total = sizeOf(out);
  const grid = elementwiseGrid(total);
  return {
    kernel: 'binary',
    constants: { OP: BINARY_OP_CODES[kind] },
    access: ['read', 'read', 'read_write'],
    uniforms: BinaryParams.pack({ total, rank: c.shape.length, alpha, rowStride: grid.rowStride, outShape: c.shape, aStrides: c.a, bStrides: c.b }),
    workgroups: grid.workgroups,
    describe: `${kind} [${a}] [${b}] -> [${out}]`,
  };
}

function binaryWebgpu(kind: BinaryKind, alpha: number) {
  return (rt: import('../webgpu/runtime.ts').WebGpuRuntime, [a, b]: GpuView[], [out]: GpuView[]) =>
    rt.dispatch(binaryLaunch(kind, a.shape, b.shape, out.shape, alpha), [a.buffer, b.buffer, out.buffer]);
}

interface SlopeAttrs {
  slope: number;
}

function binaryOp(kind: Exclude<BinaryKind, 'leaky_relu_backward'>, backward: (g: Tensor, x: Tensor, y: Tensor, needs: boolean[]) => Array<Tensor | null>) {
  return defineOp<Record<string, never>>({
    name: kind,
    inputs: ['a', 'b'],
    outputShapes: ([a, b]) => [broadcastShapes(kind, a, b)],
    cpu: binaryCpu(kind, 0),
    webgpu: binaryWebgpu(kind, 0),
    backward: ({ grad, inputs: [x, y], needs }) => backward(grad, x, y, needs),
  });
}

export const addOp = binaryOp('add', (g, x, y, needs) => [needs[0] ? sumTo(g, x.shape) : null, needs[1] ? sumTo(g, y.shape) : null]);
export const subOp = binaryOp('sub', (g, x, y, needs) => [needs[0] ? sumTo(g, x.shape) : null, needs[1] ? sumTo(scale(g, -1), y.shape) : null]);
// d(x*y)/dx = y, d(x*y)/dy = x
export const mulOp = binaryOp('mul', (g, x, y, needs) => [needs[0] ? sumTo(mul(g, y), x.shape) : null, needs[1] ? sumTo(mul(g, x), y.shape) : null]);
// d(x/y)/dx = 1/y, d(x/y)/dy = -x/y^2
export const divOp = binaryOp('div', (g, x, y, needs) => [
  needs[0] ? sumTo(div(g, y), x.shape) : null,
  needs[1] ? sumTo(scale(div(mul(g, x), mul(y, y)), -1), y.shape) : null,
]);

/** dL/dx of leaky_relu: g where x > 0, slope * g elsewhere (PyTorch takes the slope at 0). */
export const leakyReluBackwardOp = defineOp<SlopeAttrs>({
  name: 'leaky_relu_backward',
  inputs: ['x', 'grad'],
  outputShapes: ([x, g]) => [broadcastShapes('leaky_relu_backward', x, g)],
  cpu: (inputs, outputs, { slope }) => binaryCpu('leaky_relu_backward', slope)(inputs, outputs),
  webgpu: (rt, inputs, outputs, { slope }) => binaryWebgpu('leaky_relu_backward', slope)(rt, inputs, outputs),
});

export const add = (a: Tensor, b: Tensor): Tensor => apply(addOp, [a, b], {});
export const sub = (a: Tensor, b: Tensor): Tensor => apply(subOp, [a, b], {});
export const mul = (a: Tensor, b: Tensor): Tensor => apply(mulOp, [a, b], {});
export const div = (a: Tensor, b: Tensor): Tensor => apply(divOp, [a, b], {});

interface UnaryAttrs {
  alpha: number;
  beta: number;
}

/** The values of shaders/unary.wgsl's OP constant; the shader has one `case` for each and NaN for any other. */
export const UNARY_OP_CODES = { affine: 0, leaky_relu: 1, abs: 2, sign: 3, rsqrt: 4 } as const;
type UnaryKind = keyof typeof UNARY_OP_CODES;

const UnaryParams = defineUniformStruct('UnaryParams', [
  ['total', 'u32'],
  ['rowStride', 'u32'],
  ['alpha', 'f32'],
  ['beta', 'f32'],
]);

/** The unary kernel computing `kind` of x; binds x, out. */
export function unaryLaunch(kind: UnaryKind, shape: Shape, { alpha, beta }: UnaryAttrs): KernelLaunch {
  const total = sizeOf(shape);
  const grid = elementwiseGrid(total);
  return {
    kernel: 'unary',
    constants: { OP: UNARY_OP_CODES[kind] },
    access: ['read', 'read_write'],
    uniforms: UnaryParams.pack({ total, rowStride: grid.rowStride, alpha, beta }),
    workgroups: grid.workgroups,
    describe: `${kind} [${shape}]`,
  };
}

function unaryOp(kind: UnaryKind, f: (x: number, attrs: UnaryAttrs) => number, backward?: (g: Tensor, x: Tensor, attrs: UnaryAttrs) => Tensor) {
  return defineOp<UnaryAttrs>({
    name: kind,
    inputs: ['x'],
    outputShapes: ([x]) => [x],
    cpu: ([x], [out], attrs) => {
      for (let i = 0; i < out.data.length; i++) out.data[i] = f(x.data[i], attrs);
    },
    webgpu: (rt, [x], [out], attrs) => rt.dispatch(unaryLaunch(kind, x.shape, attrs), [x.buffer, out.buffer]),
    backward: backward && (({ grad, inputs: [x], attrs }) => [backward(grad, x, attrs)]),
  });
}

// d(alpha*x + beta)/dx = alpha
export const affineOp = unaryOp('affine', (x, { alpha, beta }) => alpha * x + beta, (g, _x, { alpha }) => scale(g, alpha));
export const leakyReluOp = unaryOp(
  'leaky_relu',
  (x, { alpha }) => (x > 0 ? x : alpha * x),
  (g, x, { alpha }) => apply(leakyReluBackwardOp, [x, g], { slope: alpha }),
);
// d|x|/dx = sign(x) (0 at 0, as PyTorch)
export const absOp = unaryOp('abs', (x) => Math.abs(x), (g, x) => mul(g, sign(x)));
export const signOp = unaryOp('sign', (x) => Math.sign(x));
// d (x + eps)^(-1/2) / dx = -1/2 (x + eps)^(-3/2) = -1/2 y^3
export const rsqrtOp = unaryOp(
  'rsqrt',
  (x, { beta }) => 1 / Math.sqrt(x + beta),
  (g, x, attrs) => {
    const y = apply(rsqrtOp, [x], attrs);
    return mul(g, scale(mul(y, mul(y, y)), -0.5));
  },
);

/** alpha * x (+ beta). */
export const scale = (x: Tensor, alpha: number, beta = 0): Tensor => apply(affineOp, [x], { alpha, beta });
/** LeakyReLU with PyTorch's default negative slope 0.01. */
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor => apply(leakyReluOp, [x], { alpha: slope, beta: 0 });
export const abs = (x: Tensor): Tensor => apply(absOp, [x], { alpha: 1, beta: 0 });
export const sign = (x: Tensor): Tensor => apply(signOp, [x], { alpha: 1, beta: 0 });
/** 1 / sqrt(x + eps). */
export const rsqrt = (x: Tensor, eps = 0): Tensor => apply(rsqrtOp, [x], { alpha: 1, beta: eps });

export const witnesses: OpWitness[] = [
  {
    op: 'add',
    cases: [
      { label: '[3,5]+[3,5]', inputs: [{ shape: [3, 5] }, { shape: [3, 5] }], call: ([a, b]) => add(a, b) },
      { label: '[2,3,4,5]+[3,1,1] (bias)', inputs: [{ shape: [2, 3, 4, 5] }, { shape: [3, 1, 1] }], call: ([a, b]) => add(a, b) },
      { label: '[7,1]+[1,9]', inputs: [{ shape: [7, 1] }, { shape: [1, 9] }], call: ([a, b]) => add(a, b) },
    ],
  },
  {
    op: 'sub',
    cases: [{ label: '[4,6]-[6]', inputs: [{ shape: [4, 6] }, { shape: [6] }], call: ([a, b]) => sub(a, b) }],
  },
  {
    op: 'mul',
    cases: [
      { label: '[2,3,5,7]*[2,3,1,1] (per-sample gamma)', inputs: [{ shape: [2, 3, 5, 7] }, { shape: [2, 3, 1, 1] }], call: ([a, b]) => mul(a, b) },
      { label: '[5]*[5] (same tensor twice)', inputs: [{ shape: [5] }], call: ([a]) => mul(a, a) },
    ],
  },
  {
    op: 'div',
    cases: [{ label: '[3,4,5]/[4,1]', inputs: [{ shape: [3, 4, 5] }, { shape: [4, 1], draw: positive }], call: ([a, b]) => div(a, b) }],
  },
  {
    op: 'affine',
    cases: [{ label: 'scale: 0.5*[3,7]-2', inputs: [{ shape: [3, 7] }], call: ([a]) => scale(a, 0.5, -2) }],
  },
  {
    op: 'leaky_relu',
    cases: [
      { label: '[2,3,5,5] slope 0.01', inputs: [{ shape: [2, 3, 5, 5], draw: awayFromZero }], call: ([a]) => leakyRelu(a) },
      { label: '[17] slope 0.2', inputs: [{ shape: [17], draw: awayFromZero }], call: ([a]) => leakyRelu(a, 0.2) },
    ],
  },
  {
    op: 'rsqrt',
    cases: [{ label: '[3,5] eps 1e-5', inputs: [{ shape: [3, 5], draw: positive }], call: ([a]) => rsqrt(a, 1e-5) }],
  },
  {
    op: 'abs',
    cases: [{ label: '[4,9]', inputs: [{ shape: [4, 9], draw: awayFromZero }], call: ([a]) => abs(a) }],
  },
];
