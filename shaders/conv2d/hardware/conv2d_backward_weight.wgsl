// Conv2d weight gradient as an implicit GEMM whose long reduction is split across workgroups:
//   dW[m][n] = sum_k A[m][k] * B[k][n]
//   m = co                       (M = Co)
//   n = (ci, kh, kw) flattened   (N = Ci * KERNEL_H * KERNEL_W)
//   k = (b, oh, ow) flattened    (K = batch * Ho * Wo, e.g. 131072 for the first layer at batch 8)
//   A[m][k] = dy[b, co, oh, ow]
//   B[k][n] = x[b, ci, oh*stride - pad + kh, ow*stride - pad + kw], zero outside the image.
// Workgroup z (split s) sums k over [s * splitLength, (s + 1) * splitLength) and writes its
// partial tile to out[s][m][n]; conv2d_sum_splits.wgsl then adds the splits into dw. With a
// single split, out is dw itself.
//
// Tiling is that of conv2d_forward.wgsl: a workgroup of (TILE_N / THREAD_N) x (TILE_M / THREAD_M)
// invocations owns a TILE_M x TILE_N tile of dW, stages TILE_K k-slices of A and B in workgroup
// memory as vec4s (tileA[k][m / 4], tileB[k][n / 4]), and each invocation accumulates a
// THREAD_M x THREAD_N register block with rows m = 4 * (p * (TILE_M / THREAD_M) + ty) + i and
// columns n = 4 * (q * (TILE_N / THREAD_N) + tx) + j. Here consecutive invocations stage
// consecutive k (output pixels, the contiguous direction of both dy and x), so each invocation
// decodes one pixel per k step.
//
// Buffers: x [N, Ci, H, W]; dy [N, Co, Ho, Wo]; out [splits, Co, Ci*KH*KW] (overwritten).
// Dispatch: (ceil(N / TILE_N), ceil(Co / TILE_M), splits); splitLength is a multiple of TILE_K.
// Requires: THREAD_M in {4, 8}, THREAD_N in {4, 8, 16}; the invocation count a multiple of TILE_K.

struct Conv2dParams {
  batch: u32,
  inChannels: u32,
  inHeight: u32,
  inWidth: u32,
  outChannels: u32,
  outHeight: u32,
  outWidth: u32,
  pad: u32,
  hasBias: u32, // unused here; the conv kernels share one uniform layout
  activation: u32, // unused here
  slope: f32, // unused here
  splitLength: u32, // k per split, a multiple of TILE_K
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Conv2dParams;

override THREAD_M: u32 = 8u;
override THREAD_N: u32 = 8u;
override TILE_M: u32 = 64u;
override TILE_N: u32 = 64u;
override TILE_K: u32 = 16u;
override KERNEL_H: u32 = 3u;
override KERNEL_W: u32 = 3u;
override STRIDE: u32 = 1u;
// The accumulators need a constant size; loops over the overrides have constant trip counts once
// the pipeline is built, so they unroll and the accumulators stay in registers.
const MAX_THREAD_M = 8u;
const MAX_THREAD_N = 16u;

override THREADS_M = TILE_M / THREAD_M;
override THREADS_N = TILE_N / THREAD_N;
override THREADS = THREADS_M * THREADS_N;

var<workgroup> tileA: array<vec4<f32>, TILE_K * TILE_M / 4u>;
var<workgroup> tileB: array<vec4<f32>, TILE_K * TILE_N / 4u>;

@compute @workgroup_size(THREADS_N, THREADS_M)
fn main(@builtin(local_invocation_id) localId: vec3u,
        @builtin(local_invocation_index) threadIndex: u32,
        @builtin(workgroup_id) workgroupId: vec3u) {
  let inPlane = params.inHeight * params.inWidth;
  let outPlane = params.outHeight * params.outWidth;
  let taps = KERNEL_H * KERNEL_W;
  let totalM = params.outChannels;
  let totalN = params.inChannels * taps;
  let totalK = params.batch * outPlane;
  let m0 = workgroupId.y * TILE_M;
  let n0 = workgroupId.x * TILE_N;
  let kBegin = workgroupId.z * params.splitLength;
  let kEnd = min(kBegin + params.splitLength, totalK);

  let loadK = threadIndex % TILE_K;
  var acc: array<array<vec4<f32>, MAX_THREAD_N / 4u>, MAX_THREAD_M>;

  // This invocation's pixel k = (image, oh, ow) is decoded once and then stepped by TILE_K: dividing
  // by a value known only at run time costs a CPU driver one scalar division per SIMD lane, as
  // much as a k step's multiply-adds on the narrow first layers.
  var image = (kBegin + loadK) / outPlane;
  var oh = (kBegin + loadK) % outPlane / params.outWidth;
  var ow = (kBegin + loadK) % params.outWidth;
  for (var k0 = kBegin; k0 < kEnd; k0 += TILE_K) {
    let k = k0 + loadK;
    let kValid = k < kEnd;
    let pixel = oh * params.outWidth + ow;
    let windowRow = i32(oh * STRIDE) - i32(params.pad);
    let windowCol = i32(ow * STRIDE) - i32(params.pad);
    // A: 4 output channels of dy at this invocation's pixel per unit.
    for (var m4 = threadIndex / TILE_K; m4 < TILE_M / 4u; m4 += THREADS / TILE_K) {
      var value = vec4<f32>();
      for (var i = 0u; i < 4u; i++) {
        let m = m0 + 4u * m4 + i;
        if (kValid && m < totalM) {
          value[i] = dy[(image * totalM + m) * outPlane + pixel];
        }
      }
      tileA[loadK * (TILE_M / 4u) + m4] = value;
    }
    // B: the x values this pixel's patch offers to 4 consecutive (ci, kh, kw) columns per unit.
    for (var n4 = threadIndex / TILE_K; n4 < TILE_N / 4u; n4 += THREADS / TILE_K) {
      var value = vec4<f32>();
      for (var j = 0u; j < 4u; j++) {
        let n = n0 + 4u * n4 + j;
        let tap = n % taps;
        let inRow = windowRow + i32(tap / KERNEL_W);
        let inCol = windowCol + i32(tap % KERNEL_W);
        if (kValid && n < totalN && inRow >= 0 && inRow < i32(params.inHeight) && inCol >= 0 &&
            inCol < i32(params.inWidth)) {
          value[j] = x[(image * params.inChannels + n / taps) * inPlane + u32(inRow) * params.inWidth + u32(inCol)];
        }
      }
      tileB[loadK * (TILE_N / 4u) + n4] = value;
    }
    ow += TILE_K;
    while (ow >= params.outWidth) {
      ow -= params.outWidth;
      oh++;
    }
    while (oh >= params.outHeight) {
      oh -= params.outHeight;
      image++;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K; kk++) {
      var a: array<vec4<f32>, MAX_THREAD_M / 4u>;
      var b: array<vec4<f32>, MAX_THREAD_N / 4u>;
      for (var p = 0u; p < THREAD_M / 4u; p++) {
        a[p] = tileA[kk * (TILE_M / 4u) + p * THREADS_M + localId.y];
      }
      for (var q = 0u; q < THREAD_N / 4u; q++) {
        b[q] = tileB[kk * (TILE_N / 4u) + q * THREADS_N + localId.x];
      }
      for (var p = 0u; p < THREAD_M / 4u; p++) {
        for (var i = 0u; i < 4u; i++) {
          for (var q = 0u; q < THREAD_N / 4u; q++) {
            acc[4u * p + i][q] = fma(vec4<f32>(a[p][i]), b[q], acc[4u * p + i][q]);
          }
        }
      }
    }
    workgroupBarrier();
  }

  let splitBase = workgroupId.z * totalM * totalN;
  for (var p = 0u; p < THREAD_M / 4u; p++) {
    for (var i = 0u; i < 4u; i++) {
      let m = m0 + 4u * (p * THREADS_M + localId.y) + i;
      for (var q = 0u; q < THREAD_N / 4u; q++) {
        for (var j = 0u; j < 4u; j++) {
          let n = n0 + 4u * (q * THREADS_N + localId.x) + j;
          if (m < totalM && n < totalN) {
            out[splitBase + m * totalN + n] = acc[4u * p + i][q][j];
          }
        }
      }
    }
  }
}
