// The fused elementwise pass of BatchNorm and SepBN:
//   y = (x - mean_c) * invstd_c * gamma[n, c] + beta[n, c],   invstd_c = 1 / sqrt(var_c + eps)
// gamma and beta are per channel (BatchNorm: gammaStrideN = 0) or per sample and channel (SepBN's
// mixed affine: gammaStrideN = C). With statsMode 0 the statistics come from `mean` and
// `variance` ([C], biased); with statsMode 1 they are ignored (mean 0, invstd 1), which makes this
// the per-sample channel affine y = x * gamma + beta used in eval mode. With leaky = 1 the
// LeakyReLU that follows the normalisation in the network runs here too (one pass, not two).
// POOL = 1 (an unroll parameter, engine/webgpu/unroll.ts; SepBN's training op, train.ts) also runs
// the network's 2x2 max pooling with stride 2 (even H and W): one invocation a window writes its four
// y values, their maximum and where it lies, chosen as max_pool2d_forward.wgsl does (row-major
// order; a later value wins when greater, or when NaN), so the pooling needs no pass of its own.
// Two more unroll parameters serve that op: BIAS = 1, x stands for x + bias[c] (the convolution's
// bias, added here instead of in the convolution); SETS > 0, the first C invocations also update
// SETS sets of running statistics in place from mean and variance, as running_statistics.wgsl does
// (running = running * keep + statistic * weight, the weights computed in f64 on the host).
// Buffers: x (NCHW), mean, variance ([C]), gamma, beta ([N or 1, C]), y (NCHW); with POOL also
// pooled ([N, C, H/2, W/2]) and argmax (u32, the same shape: ih * W + iw within the plane); with
// BIAS bias ([C]); then per set s runningMean_s, runningVar_s ([C], read_write).
// Dispatch: ceil(N*C*HW / 256) workgroups folded into x and y (with POOL, a quarter as many
// invocations, one a window).

override WORKGROUP_SIZE: u32 = 256u;

struct BatchNormApplyParams {
  total: u32,
  C: u32,
  HW: u32,
  gammaStrideN: u32,
  eps: f32,
  statsMode: u32,
  rowStride: u32,
  leaky: u32,
  slope: f32,
  width: u32,
  keep: f32,
  meanWeight: f32,
  varianceWeight: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> mean: array<f32>;
@group(0) @binding(2) var<storage, read> variance: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
//#if POOL
@group(0) @binding(6) var<storage, read_write> pooled: array<f32>;
@group(0) @binding(7) var<storage, read_write> argmax: array<u32>;
//#end
//#if BIAS
@group(0) @binding(${6 + 2 * POOL}) var<storage, read> bias: array<f32>;
//#end
//#for s in 0..SETS
@group(0) @binding(${6 + 2 * POOL + BIAS + 2 * s}) var<storage, read_write> runningMean${s}: array<f32>;
@group(0) @binding(${7 + 2 * POOL + BIAS + 2 * s}) var<storage, read_write> runningVar${s}: array<f32>;
//#end
@group(0) @binding(${6 + 2 * POOL + BIAS + 2 * SETS}) var<uniform> params: BatchNormApplyParams;

// y at element i of plane nc = n * C + c.
fn normalised(i: u32, nc: u32) -> f32 {
  let c = nc % params.C;
  let g = (nc / params.C) * params.gammaStrideN + c;
  var xhat = x[i];
//#if BIAS
  xhat += bias[c];
//#end
  if (params.statsMode == 0u) {
    xhat = (xhat - mean[c]) * inverseSqrt(variance[c] + params.eps);
  }
  let r = xhat * gamma[g] + beta[g];
  return select(r, select(r * params.slope, r, r > 0.0), params.leaky == 1u);
}

fn isNan(value: f32) -> bool {
  return (bitcast<u32>(value) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.rowStride + gid.x;
//#if SETS > 0
  if (i < params.C) {
    let mean = mean[i] * params.meanWeight;
    let variance = variance[i] * params.varianceWeight;
//#for s in 0..SETS
    runningMean${s}[i] = runningMean${s}[i] * params.keep + mean;
    runningVar${s}[i] = runningVar${s}[i] * params.keep + variance;
//#end
  }
//#end
  if (i >= params.total) { return; }
//#if POOL == 0
  y[i] = normalised(i, i / params.HW);
//#end
//#if POOL
  let outPlane = params.HW / 4u;
  let outWidth = params.width / 2u;
  let nc = i / outPlane;
  let o = i % outPlane;
  let base = nc * params.HW;
  let first = (o / outWidth) * 2u * params.width + (o % outWidth) * 2u;
  var bestIndex = first;
  var best = normalised(base + first, nc);
  y[base + first] = best;
  for (var k = 1u; k < 4u; k++) {
    let flat = first + (k / 2u) * params.width + k % 2u;
    let value = normalised(base + flat, nc);
    y[base + flat] = value;
    if (value > best || isNan(value)) {
      best = value;
      bestIndex = flat;
    }
  }
  pooled[i] = best;
  argmax[i] = bestIndex;
//#end
}
