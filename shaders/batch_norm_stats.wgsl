// Batch statistics per channel for BatchNorm in training: mean and biased variance over N, H, W.
// One workgroup per channel. Two passes over the channel's values, first the mean and then the
// sum of squared deviations from it, so the variance does not suffer the cancellation of
// E[x^2] - E[x]^2 when |mean| >> std (activations after LeakyReLU are mostly positive).
// Partial sums are combined in a balanced tree in workgroup memory.
// Buffers: x (f32, NCHW), mean and variance (f32, [C]; the variance is the biased one).
// Dispatch: (C, 1, 1) workgroups.

override WORKGROUP_SIZE: u32 = 256u;

struct BatchNormStatsParams {
  N: u32,
  C: u32,
  HW: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> meanOut: array<f32>;
@group(0) @binding(2) var<storage, read_write> varianceOut: array<f32>;
@group(0) @binding(3) var<uniform> params: BatchNormStatsParams;

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

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wg.x;
  let count = params.N * params.HW;
  var acc = 0.0;
  for (var i = lid; i < count; i += WORKGROUP_SIZE) {
    let n = i / params.HW;
    acc += x[(n * params.C + c) * params.HW + i % params.HW];
  }
  let mean = reduce(lid, acc) / f32(count);
  var dev = 0.0;
  for (var i = lid; i < count; i += WORKGROUP_SIZE) {
    let n = i / params.HW;
    let d = x[(n * params.C + c) * params.HW + i % params.HW] - mean;
    dev += d * d;
  }
  let variance = reduce(lid, dev) / f32(count);
  if (lid == 0u) {
    meanOut[c] = mean;
    varianceOut[c] = variance;
  }
}
