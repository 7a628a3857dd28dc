// Batch statistics per channel for BatchNorm in training: mean and biased variance over N, H, W.
// One workgroup per channel and slice of its M = N*H*W values. With splits = 1 a workgroup's slice
// is the whole channel and it writes the channel's statistics; with splits > 1 it writes its
// slice's, at [c * splits + s], and batch_norm_stats_combine.wgsl combines them. Slice s holds
// q = M / splits values, one more for s < M % splits, from s * q + min(s, M % splits), in the
// channel's order (sample by sample, pixels within a sample).
// Two passes over the slice, first the mean and then the sum of squared deviations from it, so the
// variance does not suffer the cancellation of E[x^2] - E[x]^2 when |mean| >> std (activations
// after LeakyReLU are mostly positive). Partial sums are combined in a balanced tree in workgroup
// memory.
// BIAS = 1 (an unroll parameter, engine/webgpu/unroll.ts; SepBN's training op, which takes the
// convolution's bias in its place): x stands for x + bias[c], and since a constant offset moves the
// mean but not the variance, it is added to the mean written.
// Buffers: x (f32, NCHW), mean and variance (f32, [C, splits]; the variance is the biased one);
// with BIAS, bias (f32, [C]).
// Dispatch: C * splits workgroups folded into x and y (rowStride workgroups per row).

override WORKGROUP_SIZE: u32 = 256u;

struct BatchNormStatsParams {
  N: u32,
  C: u32,
  HW: u32,
  splits: u32,
  rowStride: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> meanOut: array<f32>;
@group(0) @binding(2) var<storage, read_write> varianceOut: array<f32>;
//#if BIAS
@group(0) @binding(3) var<storage, read> bias: array<f32>;
//#end
@group(0) @binding(${3 + BIAS}) var<uniform> params: BatchNormStatsParams;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

fn reduce(lid: u32, value: f32) -> f32 {
  partial[lid] = value;
  workgroupBarrier();
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width = width / 2u) {
    if (lid < width) { partial[lid] += partial[lid + width]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

// The value at position i of channel c's N*H*W values.
fn value(c: u32, i: u32) -> f32 {
  let n = i / params.HW;
  return x[(n * params.C + c) * params.HW + i % params.HW];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = wg.y * params.rowStride + wg.x;
  // Uniform control flow: every invocation of a workgroup takes the same branch.
  if (w >= params.C * params.splits) { return; }
  let c = w / params.splits;
  let s = w % params.splits;
  let total = params.N * params.HW;
  let q = total / params.splits;
  let longer = total % params.splits;
  let first = s * q + min(s, longer);
  let count = q + select(0u, 1u, s < longer);
  let end = first + count;
  var acc = 0.0;
  for (var i = first + lid; i < end; i += WORKGROUP_SIZE) { acc += value(c, i); }
  let mean = reduce(lid, acc) / f32(count);
  var dev = 0.0;
  for (var i = first + lid; i < end; i += WORKGROUP_SIZE) {
    let d = value(c, i) - mean;
    dev += d * d;
  }
  let variance = reduce(lid, dev) / f32(count);
  if (lid == 0u) {
//#if BIAS == 0
    meanOut[w] = mean;
//#end
//#if BIAS
    meanOut[w] = mean + bias[c];
//#end
    varianceOut[w] = variance;
  }
}
