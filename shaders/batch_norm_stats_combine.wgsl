// The combine pass of split BatchNorm statistics (batch_norm_stats.wgsl with splits > 1): from
// each slice's count n_s, mean m_s and biased variance v_s, the channel's over M = sum n_s values,
// by Chan et al.'s parallel formula for k groups at once:
//   mean = (1/M) sum_s n_s m_s,   variance = (1/M) sum_s n_s (v_s + (m_s - mean)^2)
// Both are summed as corrections to the first slice's m_0 and v_0, which they differ from by a
// fraction of a percent, so the sums' rounding errors shrink by as much: the result keeps the
// accuracy of the slices' own two-pass statistics (summing n_s m_s itself lost two ulps of a mean
// near 50 over 5 slices).
// Slices are added in order: the result is deterministic.
// Slice s has q = M / splits values, one more for s < M % splits (as batch_norm_stats.wgsl cuts).
// Buffers: sliceMean, sliceVariance (f32, [C, splits]); mean, variance (f32, [C]).
// Dispatch: ceil(C / 64) workgroups folded into x and y (rowStride invocations per row).

override WORKGROUP_SIZE: u32 = 64u;

struct BatchNormStatsCombineParams {
  C: u32,
  count: u32,
  splits: u32,
  rowStride: u32,
}

@group(0) @binding(0) var<storage, read> sliceMean: array<f32>;
@group(0) @binding(1) var<storage, read> sliceVariance: array<f32>;
@group(0) @binding(2) var<storage, read_write> meanOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> varianceOut: array<f32>;
@group(0) @binding(4) var<uniform> params: BatchNormStatsCombineParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.y * params.rowStride + gid.x;
  if (c >= params.C) { return; }
  let q = params.count / params.splits;
  let longer = params.count % params.splits;
  let base = c * params.splits;
  let m0 = sliceMean[base];
  let v0 = sliceVariance[base];
  var meanShift = 0.0;
  for (var s = 1u; s < params.splits; s++) {
    meanShift += f32(q + select(0u, 1u, s < longer)) * (sliceMean[base + s] - m0);
  }
  let mean = m0 + meanShift / f32(params.count);
  var varianceShift = 0.0;
  for (var s = 0u; s < params.splits; s++) {
    let d = sliceMean[base + s] - mean;
    varianceShift += f32(q + select(0u, 1u, s < longer)) * (sliceVariance[base + s] - v0 + d * d);
  }
  meanOut[c] = mean;
  varianceOut[c] = v0 + varianceShift / f32(params.count);
}
