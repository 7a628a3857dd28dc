// The reduction pass of the BatchNorm / SepBN backward: for every (sample n, channel c),
//   sumDy[n, c]     = sum_hw dy          (= dbeta[n, c])
//   sumDyXhat[n, c] = sum_hw dy * xhat   (= dgamma[n, c])
// with xhat recomputed from x and the saved statistics (statsMode 1: xhat = x, for the eval affine).
// With leaky = 1 the layer's output went through a LeakyReLU in the same pass, and dy is the
// gradient of that output: it is first masked by (output > 0 ? 1 : slope).
// Everything else the backward needs is a small [N, C] computation on these sums.
// POOL = 1 (an unroll parameter, engine/webgpu/unroll.ts; SepBN's training op, train.ts): the
// network's 2x2 max pooling with stride 2 followed, in the forward pass's own last pass
// (batch_norm_apply.wgsl), and dy is the gradient of its output [N, C, H/2, W/2], routed here
// through argmax to the element each window chose; the pooling's backward needs no pass of its own.
// Buffers: x (NCHW), dy (NCHW, or pooled with POOL), mean, variance ([C], biased), output (NCHW,
// read when leaky), sumDy, sumDyXhat ([N, C]); with POOL argmax (u32, dy's shape); with BIAS = 1
// (SepBN's training op, which adds the convolution's bias itself) bias ([C]): x stands for x + bias[c].
// Dispatch: one workgroup per (n, c): (N*C folded into x and y).

override WORKGROUP_SIZE: u32 = 64u;

struct BatchNormBackwardReduceParams {
  NC: u32,
  C: u32,
  HW: u32,
  rowStride: u32,
  eps: f32,
  statsMode: u32,
  leaky: u32,
  slope: f32,
  width: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> variance: array<f32>;
@group(0) @binding(4) var<storage, read> output: array<f32>;
@group(0) @binding(5) var<storage, read_write> sumDy: array<f32>;
@group(0) @binding(6) var<storage, read_write> sumDyXhat: array<f32>;
//#if POOL
@group(0) @binding(7) var<storage, read> argmax: array<u32>;
//#end
//#if BIAS
@group(0) @binding(${7 + POOL}) var<storage, read> bias: array<f32>;
//#end
@group(0) @binding(${7 + POOL + BIAS}) var<uniform> params: BatchNormBackwardReduceParams;

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

var<workgroup> partialDy: array<f32, WORKGROUP_SIZE>;
var<workgroup> partialDyXhat: array<f32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let nc = wg.y * params.rowStride + wg.x;
  if (nc >= params.NC) { return; }
  let c = nc % params.C;
  var center = 0.0;
  var invstd = 1.0;
  if (params.statsMode == 0u) {
    center = mean[c];
//#if BIAS
    center -= bias[c];
//#end
    invstd = inverseSqrt(variance[c] + params.eps);
  }
  let base = nc * params.HW;
  var dySum = 0.0;
  var dyXhat = 0.0;
  for (var i = lid; i < params.HW; i += WORKGROUP_SIZE) {
    var g = incoming(nc, i);
    if (params.leaky == 1u) { g = select(g * params.slope, g, output[base + i] > 0.0); }
    dySum += g;
    dyXhat += g * (x[base + i] - center) * invstd;
  }
  partialDy[lid] = dySum;
  partialDyXhat[lid] = dyXhat;
  workgroupBarrier();
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width = width / 2u) {
    if (lid < width) {
      partialDy[lid] += partialDy[lid + width];
      partialDyXhat[lid] += partialDyXhat[lid + width];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    sumDy[nc] = partialDy[0];
    sumDyXhat[nc] = partialDyXhat[0];
  }
}
