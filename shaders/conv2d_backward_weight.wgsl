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
// Tiling is that of conv2d_forward.wgsl: a TILE_M x TILE_N tile of dW per workgroup, TILE_K
// k-slices of A and B staged in workgroup memory (tileA[k][m], tileB[k][n]), a THREAD_M x THREAD_N
// register block per invocation with rows m = ty + i * (TILE_M / THREAD_M) and columns
// n = tx + j * (TILE_N / THREAD_N). Here consecutive invocations load consecutive k (output
// pixels), the contiguous direction of both dy and x, so each decodes one pixel per k step.
//
// Buffers: x [N, Ci, H, W]; dy [N, Co, Ho, Wo]; out [splits, Co, Ci*KH*KW] (overwritten).
// Dispatch: (ceil(N / TILE_N), ceil(Co / TILE_M), splits); splitLength is a multiple of TILE_K.
// Requires: (TILE_M / THREAD_M) * (TILE_N / THREAD_N) invocations, a multiple of TILE_K;
// TILE_K * TILE_M and TILE_K * TILE_N multiples of that count.

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

const THREAD_M = 4u;
const THREAD_N = 4u;
override TILE_M: u32 = 64u;
override TILE_N: u32 = 64u;
override TILE_K: u32 = 16u;
override KERNEL_H: u32 = 3u;
override KERNEL_W: u32 = 3u;
override STRIDE: u32 = 1u;

override THREADS_M = TILE_M / THREAD_M;
override THREADS_N = TILE_N / THREAD_N;
override THREADS = THREADS_M * THREADS_N;

var<workgroup> tileA: array<f32, TILE_K * TILE_M>;
var<workgroup> tileB: array<f32, TILE_K * TILE_N>;

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
  var acc: array<array<f32, THREAD_N>, THREAD_M>;

  for (var k0 = kBegin; k0 < kEnd; k0 += TILE_K) {
    let k = k0 + loadK;
    let kValid = k < kEnd;
    let b = k / outPlane;
    let pixel = k % outPlane;
    let outRow = pixel / params.outWidth;
    let outCol = pixel % params.outWidth;
    let inRow0 = i32(outRow * STRIDE) - i32(params.pad);
    let inCol0 = i32(outCol * STRIDE) - i32(params.pad);
    // A: dy rows of the tile's output channels at this invocation's pixel.
    for (var mm = threadIndex / TILE_K; mm < TILE_M; mm += THREADS / TILE_K) {
      let m = m0 + mm;
      var value = 0.0;
      if (kValid && m < totalM) {
        value = dy[(b * totalM + m) * outPlane + pixel];
      }
      tileA[loadK * TILE_M + mm] = value;
    }
    // B: the x values that this pixel's patch offers to the tile's (ci, kh, kw) columns.
    for (var nn = threadIndex / TILE_K; nn < TILE_N; nn += THREADS / TILE_K) {
      let n = n0 + nn;
      let ci = n / taps;
      let tap = n % taps;
      let inRow = inRow0 + i32(tap / KERNEL_W);
      let inCol = inCol0 + i32(tap % KERNEL_W);
      var value = 0.0;
      if (kValid && n < totalN && inRow >= 0 && inRow < i32(params.inHeight) && inCol >= 0 &&
          inCol < i32(params.inWidth)) {
        value = x[(b * params.inChannels + ci) * inPlane + u32(inRow) * params.inWidth + u32(inCol)];
      }
      tileB[loadK * TILE_N + nn] = value;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K; kk++) {
      var a: array<f32, THREAD_M>;
      var bv: array<f32, THREAD_N>;
      for (var i = 0u; i < THREAD_M; i++) {
        a[i] = tileA[kk * TILE_M + localId.y + i * THREADS_M];
      }
      for (var j = 0u; j < THREAD_N; j++) {
        bv[j] = tileB[kk * TILE_N + localId.x + j * THREADS_N];
      }
      for (var i = 0u; i < THREAD_M; i++) {
        for (var j = 0u; j < THREAD_N; j++) {
          acc[i][j] = fma(a[i], bv[j], acc[i][j]);
        }
      }
    }
    workgroupBarrier();
  }

  let splitBase = workgroupId.z * totalM * totalN;
  for (var i = 0u; i < THREAD_M; i++) {
    let m = m0 + localId.y + i * THREADS_M;
    for (var j = 0u; j < THREAD_N; j++) {
      let n = n0 + localId.x + j * THREADS_N;
      if (m < totalM && n < totalN) {
        out[splitBase + m * totalN + n] = acc[i][j];
      }
    }
  }
}
