// Launch arithmetic for max pooling, forward and backward, with no GPU objects. Both passes are
// one element per invocation: pooling is memory-bound, and the backward pass gathers (each input
// element sums the windows that chose it) so it needs neither atomics nor a zeroing pass.

import { type KernelLaunch, ceilDiv, defineUniformStruct } from '../webgpu/launch.ts';
import { spreadWorkgroups, SPREAD_WORKGROUP_SIZE } from '../webgpu/grid.ts';

export interface MaxPool2dProblem {
  N: number;
  C: number;
  H: number;
  W: number;
  KH: number;
  KW: number;
  /** PyTorch's default stride is the kernel size; pass it explicitly. */
  stride: number;
  pad: number;
}

export function maxPool2dOutputSize(p: MaxPool2dProblem): { Ho: number; Wo: number } {
  return {
    Ho: Math.floor((p.H + 2 * p.pad - p.KH) / p.stride) + 1,
    Wo: Math.floor((p.W + 2 * p.pad - p.KW) / p.stride) + 1,
  };
}

function checkProblem(p: MaxPool2dProblem): { Ho: number; Wo: number } {
  for (const name of ['N', 'C', 'H', 'W', 'KH', 'KW', 'stride'] as const) {
    if (!Number.isInteger(p[name]) || p[name] < 1) throw new Error(`max_pool2d: ${name} must be a positive integer, got ${p[name]}`);
  }
  // As in PyTorch: a window made only of padding would have no element to choose.
  if (!Number.isInteger(p.pad) || p.pad < 0 || 2 * p.pad > Math.min(p.KH, p.KW)) {
    throw new Error(`max_pool2d: pad must be an integer in [0, kernel / 2], got ${p.pad} for a ${p.KH}x${p.KW} kernel`);
  }
  const size = maxPool2dOutputSize(p);
  if (size.Ho < 1 || size.Wo < 1) throw new Error(`max_pool2d: a ${p.KH}x${p.KW} window does not fit a ${p.H}x${p.W} input`);
  return size;
}

const MaxPool2dParams = defineUniformStruct('MaxPool2dParams', [
  ['planes', 'u32'],
  ['inHeight', 'u32'],
  ['inWidth', 'u32'],
  ['outHeight', 'u32'],
  ['outWidth', 'u32'],
  ['kernelHeight', 'u32'],
  ['kernelWidth', 'u32'],
  ['stride', 'u32'],
  ['pad', 'u32'],
]);

function uniforms(p: MaxPool2dProblem): ArrayBuffer {
  const { Ho, Wo } = maxPool2dOutputSize(p);
  return MaxPool2dParams.pack({
    planes: p.N * p.C,
    inHeight: p.H,
    inWidth: p.W,
    outHeight: Ho,
    outWidth: Wo,
    kernelHeight: p.KH,
    kernelWidth: p.KW,
    stride: p.stride,
    pad: p.pad,
  });
}

function describe(p: MaxPool2dProblem): string {
  const { Ho, Wo } = maxPool2dOutputSize(p);
  return `x[${p.N},${p.C},${p.H},${p.W}] y[${p.N},${p.C},${Ho},${Wo}] kernel ${p.KH}x${p.KW} stride ${p.stride} pad ${p.pad}`;
}

/** Forward: binds x, y, argmax (u32, same shape as y). */
export function maxPool2dForwardLaunch(p: MaxPool2dProblem): KernelLaunch {
  const { Ho, Wo } = checkProblem(p);
  const spread = spreadWorkgroups(ceilDiv(p.N * p.C * Ho * Wo, SPREAD_WORKGROUP_SIZE));
  return {
    kernel: 'max_pool2d_forward',
    access: ['read', 'read_write', 'read_write'],
    uniforms: uniforms(p),
    workgroups: [spread.x, 1, spread.z],
    describe: describe(p),
  };
}

/** Backward: binds dy, argmax, dx (dx overwritten). */
export function maxPool2dBackwardLaunch(p: MaxPool2dProblem): KernelLaunch {
  checkProblem(p);
  const spread = spreadWorkgroups(ceilDiv(p.N * p.C * p.H * p.W, SPREAD_WORKGROUP_SIZE));
  return {
    kernel: 'max_pool2d_backward',
    access: ['read', 'read', 'read_write'],
    uniforms: uniforms(p),
    workgroups: [spread.x, 1, spread.z],
    describe: describe(p),
  };
}
