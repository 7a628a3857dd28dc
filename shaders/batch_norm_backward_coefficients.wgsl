// The two per-channel terms of the BatchNorm / SepBN input gradient in training mode, from the
// per-(sample, channel) sums of batch_norm_backward_reduce.wgsl (see batch_norm_backward_apply.wgsl):
//   A_c = (1/M) sum_n gamma[n,c] * sumDy[n,c],   B_c = (1/M) sum_n gamma[n,c] * sumDyXhat[n,c]
// with M = N*H*W. One invocation per channel sums its N samples in order (deterministic); the
// [N, C] inputs are small next to the activations, so one pass in place of a multiply, a sum and
// a scale for each term.
// Buffers: gamma ([N or 1, C]), sumDy, sumDyXhat ([N, C]); A, B ([C]).
// Dispatch: ceil(C / 64) workgroups folded into x and y (rowStride invocations per row).

override WORKGROUP_SIZE: u32 = 64u;

struct BatchNormBackwardCoefficientsParams {
  N: u32,
  C: u32,
  gammaStrideN: u32,
  invCount: f32,
  rowStride: u32,
}

@group(0) @binding(0) var<storage, read> gamma: array<f32>;
@group(0) @binding(1) var<storage, read> sumDy: array<f32>;
@group(0) @binding(2) var<storage, read> sumDyXhat: array<f32>;
@group(0) @binding(3) var<storage, read_write> A: array<f32>;
@group(0) @binding(4) var<storage, read_write> B: array<f32>;
@group(0) @binding(5) var<uniform> params: BatchNormBackwardCoefficientsParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.y * params.rowStride + gid.x;
  if (c >= params.C) { return; }
  var a = 0.0;
  var b = 0.0;
  for (var n = 0u; n < params.N; n++) {
    let g = gamma[n * params.gammaStrideN + c];
    a += g * sumDy[n * params.C + c];
    b += g * sumDyXhat[n * params.C + c];
  }
  A[c] = a * params.invCount;
  B[c] = b * params.invCount;
}
