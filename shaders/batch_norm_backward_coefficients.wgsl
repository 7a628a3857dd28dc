// The two per-channel terms of the BatchNorm / SepBN input gradient in training mode, from the
// per-(sample, channel) sums of batch_norm_backward_reduce.wgsl (see batch_norm_backward_apply.wgsl):
//   A_c = (1/M) sum_n gamma[n,c] * sumDy[n,c],   B_c = (1/M) sum_n gamma[n,c] * sumDyXhat[n,c]
// with M = N*H*W. One invocation per channel sums its N samples in order (deterministic); the
// [N, C] inputs are small next to the activations, so one pass in place of a multiply, a sum and
// a scale for each term.
// SETS > 0 (an unroll parameter, engine/webgpu/unroll.ts; SepBN's training op, train.ts) also
// gives the gradients of SepBN's K = SETS parameter sets, from the same [N, C] sums (which are
// dbeta[n, c] and dgamma[n, c] of the per-sample affine) weighted by the attention:
//   dgamma_k[c] = sum_n a[n, g(c), k] * sumDyXhat[n, c],   dbeta_k[c] = sum_n a[n, g(c), k] * sumDy[n, c]
// Buffers: gamma ([N or 1, C]), sumDy, sumDyXhat ([N, C]); A, B ([C]); with SETS > 0 also a
// ([N, G, SETS], read), then dgamma_k, then dbeta_k ([C] each).
// Dispatch: ceil(C / 64) workgroups folded into x and y (rowStride invocations per row).

override WORKGROUP_SIZE: u32 = 64u;

struct BatchNormBackwardCoefficientsParams {
  N: u32,
  C: u32,
  gammaStrideN: u32,
  invCount: f32,
  rowStride: u32,
  groups: u32,
}

@group(0) @binding(0) var<storage, read> gamma: array<f32>;
@group(0) @binding(1) var<storage, read> sumDy: array<f32>;
@group(0) @binding(2) var<storage, read> sumDyXhat: array<f32>;
@group(0) @binding(3) var<storage, read_write> A: array<f32>;
@group(0) @binding(4) var<storage, read_write> B: array<f32>;
//#if SETS > 0
@group(0) @binding(5) var<storage, read> attention: array<f32>;
//#end
//#for k in 0..SETS
@group(0) @binding(${6 + k}) var<storage, read_write> dgamma${k}: array<f32>;
@group(0) @binding(${6 + SETS + k}) var<storage, read_write> dbeta${k}: array<f32>;
//#end
@group(0) @binding(${5 + (SETS > 0) + 2 * SETS}) var<uniform> params: BatchNormBackwardCoefficientsParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.y * params.rowStride + gid.x;
  if (c >= params.C) { return; }
  var a = 0.0;
  var b = 0.0;
//#for k in 0..SETS
  var dgammaSum${k} = 0.0;
  var dbetaSum${k} = 0.0;
//#end
  for (var n = 0u; n < params.N; n++) {
    let g = gamma[n * params.gammaStrideN + c];
    let dy = sumDy[n * params.C + c];
    let dyXhat = sumDyXhat[n * params.C + c];
    a += g * dy;
    b += g * dyXhat;
//#if SETS > 0
    let weights = (n * params.groups + c / (params.C / params.groups)) * ${SETS}u;
//#end
//#for k in 0..SETS
    dgammaSum${k} += attention[weights + ${k}u] * dyXhat;
    dbetaSum${k} += attention[weights + ${k}u] * dy;
//#end
  }
  A[c] = a * params.invCount;
  B[c] = b * params.invCount;
//#for k in 0..SETS
  dgamma${k}[c] = dgammaSum${k};
  dbeta${k}[c] = dbetaSum${k};
//#end
}
