// The fused elementwise pass of BatchNorm and SepBN:
//   y = (x - mean_c) * invstd_c * gamma[n, c] + beta[n, c],   invstd_c = 1 / sqrt(var_c + eps)
// gamma and beta are per channel (BatchNorm: gammaStrideN = 0) or per sample and channel (SepBN's
// mixed affine: gammaStrideN = C). With statsMode 0 the statistics come from `mean` and
// `variance` ([C], biased); with statsMode 1 they are ignored (mean 0, invstd 1), which makes this
// the per-sample channel affine y = x * gamma + beta used in eval mode. With leaky = 1 the
// LeakyReLU that follows the normalisation in the network runs here too (one pass, not two).
// Buffers: x (NCHW), mean, variance ([C]), gamma, beta ([N or 1, C]), y (NCHW).
// Dispatch: ceil(N*C*HW / 256) workgroups folded into x and y.

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
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> mean: array<f32>;
@group(0) @binding(2) var<storage, read> variance: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<uniform> params: BatchNormApplyParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.rowStride + gid.x;
  if (i >= params.total) { return; }
  let nc = i / params.HW;
  let c = nc % params.C;
  let n = nc / params.C;
  let g = n * params.gammaStrideN + c;
  var xhat = x[i];
  if (params.statsMode == 0u) {
    xhat = (xhat - mean[c]) * inverseSqrt(variance[c] + params.eps);
  }
  let r = xhat * gamma[g] + beta[g];
  y[i] = select(r, select(r * params.slope, r, r > 0.0), params.leaky == 1u);
}
