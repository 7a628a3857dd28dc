// Launch arithmetic for the naive convolution kernels (shaders/conv2d/naive/): one output element
// per invocation, on any adapter. They are the benchmark baseline and the debugging fallback. No
// GPU objects.

import { spreadWorkgroups, SPREAD_WORKGROUP_SIZE } from '../../webgpu/grid.ts';
import { type KernelLaunch, ceilDiv, defineUniformStruct } from '../../webgpu/launch.ts';
import { checkProblem, type Conv2dProblem, conv2dOutputSize, shapes } from './problem.ts';

/** The naive shaders' uniform struct; the backward ones declare only the fields up to pad, since bias and activation are forward-only. */
const Conv2dNaiveParams = defineUniformStruct(
  'Conv2dNaiveParams',
  [
    ['batch', 'u32'],
    ['inChannels', 'u32'],
    ['inHeight', 'u32'],
    ['inWidth', 'u32'],
    ['outChannels', 'u32'],
    ['outHeight', 'u32'],
    ['outWidth', 'u32'],
    ['kernelHeight', 'u32'],
    ['kernelWidth', 'u32'],
    ['stride', 'u32'],
    ['pad', 'u32'],
    ['hasBias', 'u32'],
    ['activation', 'u32'],
    ['slope', 'f32'],
  ],
  { prefixKernels: ['conv2d_naive_backward_input', 'conv2d_naive_backward_weight'] },
);

function naiveUniforms(p: Conv2dProblem): ArrayBuffer {
  const { Ho, Wo } = conv2dOutputSize(p);
  return Conv2dNaiveParams.pack({
    batch: p.N,
    inChannels: p.Ci,
    inHeight: p.H,
    inWidth: p.W,
    outChannels: p.Co,
    outHeight: Ho,
    outWidth: Wo,
    kernelHeight: p.KH,
    kernelWidth: p.KW,
    stride: p.stride,
    pad: p.pad,
    hasBias: p.hasBias ? 1 : 0,
    activation: p.activation === 'leaky_relu' ? 1 : 0,
    slope: p.slope,
  });
}

function naiveLaunch(kernel: string, p: Conv2dProblem, outputs: number, access: KernelLaunch['access']): KernelLaunch {
  checkProblem(p);
  const spread = spreadWorkgroups(ceilDiv(outputs, SPREAD_WORKGROUP_SIZE));
  return { kernel, access, uniforms: naiveUniforms(p), workgroups: [spread.x, 1, spread.z], describe: shapes(p) };
}

/** Naive forward: binds x, weight, bias, y, as the tiled forward's single launch. */
export function conv2dNaiveForwardLaunch(p: Conv2dProblem): KernelLaunch {
  const { Ho, Wo } = conv2dOutputSize(p);
  return naiveLaunch('conv2d_naive_forward', p, p.N * p.Co * Ho * Wo, ['read', 'read', 'read', 'read_write']);
}

/** Naive input gradient: binds dy, weight, dx, as the tiled input gradient's single launch. */
export function conv2dNaiveBackwardInputLaunch(p: Conv2dProblem): KernelLaunch {
  return naiveLaunch('conv2d_naive_backward_input', p, p.N * p.Ci * p.H * p.W, ['read', 'read', 'read_write']);
}

/** Naive weight gradient, one launch with no scratch: binds x, dy, dw. */
export function conv2dNaiveBackwardWeightLaunch(p: Conv2dProblem): KernelLaunch {
  return naiveLaunch('conv2d_naive_backward_weight', p, p.Co * p.Ci * p.KH * p.KW, ['read', 'read', 'read_write']);
}

