// BatchNorm's running averages for SETS sets at once, in place (engine/assign.ts):
//   running_mean_s = running_mean_s * keep + batch_mean * meanWeight
//   running_var_s  = running_var_s * keep + batch_variance * varianceWeight
// keep = 1 - momentum, meanWeight = momentum, varianceWeight = momentum * count / (count - 1)
// (the unbiased variance, as PyTorch), computed in f64 on the host. SETS is an unroll parameter
// (engine/webgpu/unroll.ts): SepBN's K sets all take the same batch statistics in one dispatch.
// Buffers: batchMean, batchVariance (f32, [C]), then per set s: runningMean_s, runningVar_s
// (f32, [C], read_write).
// Dispatch: ceil(C / WORKGROUP_SIZE) workgroups folded into x and y (elementwiseGrid);
// channel c = gid.y * rowStride + gid.x.

override WORKGROUP_SIZE: u32 = 256u;

struct RunningStatisticsParams {
  C: u32,
  rowStride: u32,
  keep: f32,
  meanWeight: f32,
  varianceWeight: f32,
}

@group(0) @binding(0) var<storage, read> batchMean: array<f32>;
@group(0) @binding(1) var<storage, read> batchVariance: array<f32>;
//#for s in 0..SETS
@group(0) @binding(${2 + 2 * s}) var<storage, read_write> runningMean${s}: array<f32>;
@group(0) @binding(${3 + 2 * s}) var<storage, read_write> runningVar${s}: array<f32>;
//#end
@group(0) @binding(${2 + 2 * SETS}) var<uniform> params: RunningStatisticsParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.y * params.rowStride + gid.x;
  if (c >= params.C) { return; }
  let mean = batchMean[c] * params.meanWeight;
  let variance = batchVariance[c] * params.varianceWeight;
//#for s in 0..SETS
  runningMean${s}[c] = runningMean${s}[c] * params.keep + mean;
  runningVar${s}[c] = runningVar${s}[c] * params.keep + variance;
//#end
}
