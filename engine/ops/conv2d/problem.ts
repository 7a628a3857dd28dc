// A convolution as the kernels see it: its sizes, the checks every launch makes, the one rule for
// the model's 3x3 layers, and the uniform struct Conv2dParams that the tiled and subgroup shaders
// declare (the naive shaders take their own, in naive-launch.ts). No GPU objects.

import { defineUniformStruct } from '../../webgpu/launch.ts';

export interface Conv2dProblem {
  N: number;
  Ci: number;
  H: number;
  W: number;
  Co: number;
  KH: number;
  KW: number;
  stride: number;
  pad: number;
  hasBias: boolean;
  activation: 'none' | 'leaky_relu';
  /** Negative slope of the leaky ReLU; ignored when activation is 'none'. */
  slope: number;
}

export function conv2dOutputSize(p: Conv2dProblem): { Ho: number; Wo: number } {
  return {
    Ho: Math.floor((p.H + 2 * p.pad - p.KH) / p.stride) + 1,
    Wo: Math.floor((p.W + 2 * p.pad - p.KW) / p.stride) + 1,
  };
}

export function checkProblem(p: Conv2dProblem): { Ho: number; Wo: number } {
  for (const name of ['N', 'Ci', 'H', 'W', 'Co', 'KH', 'KW', 'stride'] as const) {
    if (!Number.isInteger(p[name]) || p[name] < 1) throw new Error(`conv2d: ${name} must be a positive integer, got ${p[name]}`);
  }
  if (!Number.isInteger(p.pad) || p.pad < 0) throw new Error(`conv2d: pad must be a non-negative integer, got ${p.pad}`);
  const size = conv2dOutputSize(p);
  if (size.Ho < 1 || size.Wo < 1) {
    throw new Error(`conv2d: a ${p.KH}x${p.KW} kernel with pad ${p.pad} does not fit a ${p.H}x${p.W} input`);
  }
  return size;
}

export function shapes(p: Conv2dProblem): string {
  const { Ho, Wo } = conv2dOutputSize(p);
  return `x[${p.N},${p.Ci},${p.H},${p.W}] weight[${p.Co},${p.Ci},${p.KH},${p.KW}] y[${p.N},${p.Co},${Ho},${Wo}] ` +
    `stride ${p.stride} pad ${p.pad}`;
}

/**
 * The model's convolutions (3x3, stride 1, pad 1: "same" size): the only shape the subgroup
 * kernels for CPU rasterisers take.
 */
export function is3x3Same(p: Conv2dProblem): boolean {
  return p.KH === 3 && p.KW === 3 && p.stride === 1 && p.pad === 1;
}

/** The uniform struct of the tiled and subgroup shaders; every one declares all of it, used or not. */
const Conv2dParams = defineUniformStruct('Conv2dParams', [
  ['batch', 'u32'],
  ['inChannels', 'u32'],
  ['inHeight', 'u32'],
  ['inWidth', 'u32'],
  ['outChannels', 'u32'],
  ['outHeight', 'u32'],
  ['outWidth', 'u32'],
  ['pad', 'u32'],
  ['hasBias', 'u32'],
  ['activation', 'u32'],
  ['slope', 'f32'],
  ['splitLength', 'u32'],
]);

export function conv2dUniforms(p: Conv2dProblem, splitLength = 0): ArrayBuffer {
  const { Ho, Wo } = conv2dOutputSize(p);
  return Conv2dParams.pack({
    batch: p.N,
    inChannels: p.Ci,
    inHeight: p.H,
    inWidth: p.W,
    outChannels: p.Co,
    outHeight: Ho,
    outWidth: Wo,
    pad: p.pad,
    hasBias: p.hasBias ? 1 : 0,
    activation: p.activation === 'leaky_relu' ? 1 : 0,
    slope: p.slope,
    splitLength,
  });
}
