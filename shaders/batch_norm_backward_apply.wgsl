// The elementwise pass of the BatchNorm / SepBN input gradient in training mode. With
// xhat = (x - mean_c) * invstd_c and y = gamma[n,c] * xhat + beta[n,c]:
//   dx = invstd_c * (gamma[n,c] * dy - A_c - xhat * B_c)
//   A_c = (1/M) sum_n gamma[n,c] * sum_hw dy,   B_c = (1/M) sum_n gamma[n,c] * sum_hw dy * xhat,
// M = N*H*W: the mean of dxhat and of dxhat * xhat over the channel (the terms through mean and
// variance). A and B are computed on [N, C] tensors from the reduction's sums.
// With leaky = 1, dy is the gradient of the LeakyReLU that followed in the forward pass and is first
// masked by (output > 0 ? 1 : slope), as in batch_norm_backward_reduce.wgsl.
// With pooledGrad = 1 (SepBN's training op, train.ts) x also reached the attention through its
// per-sample means, and that path's gradient is added: dx += pooledScale * dpooled[c, n]
// (dpooled is the gradient of the means, [C, N]; pooledScale = 1/(H*W)).
// POOL = 1 (an unroll parameter, engine/webgpu/unroll.ts; SepBN's training op, train.ts): the
// network's 2x2 max pooling with stride 2 followed, in the forward pass's own last pass
// (batch_norm_apply.wgsl), and dy is the gradient of its output [N, C, H/2, W/2], routed here
// through argmax to the element each window chose; the pooling's backward needs no pass of its own.
// Buffers: x, dy (NCHW, or pooled with POOL), mean, variance ([C]), gamma ([N or 1, C]), A, B ([C]),
// output (NCHW, read when leaky), dpooled ([C, N], read when pooledGrad), dx (NCHW); with POOL
// argmax (u32, dy's shape); with BIAS = 1 (SepBN's training op, which adds the convolution's bias
// itself) bias ([C]): x stands for x + bias[c].
// Dispatch: ceil(N*C*HW / 256) workgroups folded into x and y.

override WORKGROUP_SIZE: u32 = 256u;

struct BatchNormBackwardApplyParams {
  total: u32,
  C: u32,
  HW: u32,
  gammaStrideN: u32,
  eps: f32,
  rowStride: u32,
  leaky: u32,
  slope: f32,
  pooledGrad: u32,
  pooledScale: f32,
  N: u32,
  width: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> variance: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> coefA: array<f32>;
@group(0) @binding(6) var<storage, read> coefB: array<f32>;
@group(0) @binding(7) var<storage, read> output: array<f32>;
@group(0) @binding(8) var<storage, read> dpooled: array<f32>;
@group(0) @binding(9) var<storage, read_write> dx: array<f32>;
//#if POOL
@group(0) @binding(10) var<storage, read> argmax: array<u32>;
//#end
//#if BIAS
@group(0) @binding(${10 + POOL}) var<storage, read> bias: array<f32>;
//#end
@group(0) @binding(${10 + POOL + BIAS}) var<uniform> params: BatchNormBackwardApplyParams;

// The gradient reaching element i (within the plane) of plane nc: dy itself, or with POOL the
// gradient of the window's maximum where i is the element max pooling chose, 0 elsewhere.
fn incoming(nc: u32, i: u32) -> f32 {
//#if POOL == 0
  return dy[nc * params.HW + i];
//#end
//#if POOL
  let o = nc * (params.HW / 4u) + (i / params.width / 2u) * (params.width / 2u) + (i % params.width) / 2u;
  return select(0.0, dy[o], argmax[o] == i);
//#end
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.rowStride + gid.x;
  if (i >= params.total) { return; }
  let nc = i / params.HW;
  let c = nc % params.C;
  let n = nc / params.C;
  let invstd = inverseSqrt(variance[c] + params.eps);
  var value = x[i];
//#if BIAS
  value += bias[c];
//#end
  let xhat = (value - mean[c]) * invstd;
  let g = gamma[n * params.gammaStrideN + c];
  var grad = incoming(nc, i % params.HW);
  if (params.leaky == 1u) { grad = select(grad * params.slope, grad, output[i] > 0.0); }
  var result = invstd * (g * grad - coefA[c] - xhat * coefB[c]);
  if (params.pooledGrad == 1u) { result += params.pooledScale * dpooled[c * params.N + n]; }
  dx[i] = result;
}
