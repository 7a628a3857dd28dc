// Conv2d forward, y = activation(conv(x, weight) + bias), as an implicit GEMM with no im2col buffer:
//   Y[m][n] = sum_k A[m][k] * B[k][n]
//   m = co                       (M = Co)
//   n = (b, oh, ow) flattened    (N = batch * Ho * Wo)
//   k = (ci, kh, kw) flattened   (K = Ci * KERNEL_H * KERNEL_W)
//   A[m][k] = weight[co, ci, kh, kw]   (OIHW is already row-major [Co, K])
//   B[k][n] = x[b, ci, oh*stride - pad + kh, ow*stride - pad + kw], zero outside the image,
//             gathered from x while the tile is loaded.
//
// Tiling: a workgroup owns a TILE_M x TILE_N tile of Y and walks K in steps of TILE_K, staging
// A and B k-slices in workgroup memory (tileA[k][m], tileB[k][n]). Each invocation keeps a
// THREAD_M x THREAD_N block of accumulators in registers; its rows are m = ty + i * (TILE_M /
// THREAD_M) and its columns n = tx + j * (TILE_N / THREAD_N), strided so that neighbouring
// invocations read neighbouring workgroup-memory words and write neighbouring pixels of y.
// The kernel size and stride are pipeline constants so that the index arithmetic of the gather
// divides by constants.
//
// Buffers: x [N, Ci, H, W]; weight [Co, Ci, KH, KW]; bias [Co] (read only when hasBias; bind any
// buffer otherwise); y [N, Co, Ho, Wo].
// Dispatch: (tiles of N over x and z, ceil(Co / TILE_M), z) where the N tile index is
// workgroup_id.x + workgroup_id.z * num_workgroups.x, so large batches stay within 65535 per
// dimension; workgroups past the last tile return at once.
// Requires: (TILE_M / THREAD_M) * (TILE_N / THREAD_N) invocations, a multiple of TILE_N and of
// TILE_K; TILE_K * TILE_M and TILE_K * TILE_N multiples of that count.

struct Conv2dParams {
  batch: u32,
  inChannels: u32,
  inHeight: u32,
  inWidth: u32,
  outChannels: u32,
  outHeight: u32,
  outWidth: u32,
  pad: u32,
  hasBias: u32,
  activation: u32, // 0 none, 1 leaky ReLU
  slope: f32,
  splitLength: u32, // unused here; the conv kernels share one uniform layout
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Conv2dParams;

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
        @builtin(workgroup_id) workgroupId: vec3u,
        @builtin(num_workgroups) workgroupCount: vec3u) {
  let inPlane = params.inHeight * params.inWidth;
  let outPlane = params.outHeight * params.outWidth;
  let totalN = params.batch * outPlane;
  let taps = KERNEL_H * KERNEL_W;
  let totalK = params.inChannels * taps;
  let n0 = (workgroupId.x + workgroupId.z * workgroupCount.x) * TILE_N;
  if (n0 >= totalN) {
    return;
  }
  let m0 = workgroupId.y * TILE_M;

  // Each invocation gathers the same column of B at every k step, so its pixel is decoded once.
  let loadColumn = threadIndex % TILE_N;
  let loadN = n0 + loadColumn;
  let columnValid = loadN < totalN;
  let loadBatch = loadN / outPlane;
  let loadPixel = loadN % outPlane;
  let inRow0 = i32((loadPixel / params.outWidth) * STRIDE) - i32(params.pad);
  let inCol0 = i32((loadPixel % params.outWidth) * STRIDE) - i32(params.pad);
  let xBatchBase = loadBatch * params.inChannels * inPlane;

  var acc: array<array<f32, THREAD_N>, THREAD_M>;

  for (var k0 = 0u; k0 < totalK; k0 += TILE_K) {
    // A: consecutive invocations read consecutive k of one weight row.
    for (var e = threadIndex; e < TILE_K * TILE_M; e += THREADS) {
      let kk = e % TILE_K;
      let mm = e / TILE_K;
      let m = m0 + mm;
      let k = k0 + kk;
      var value = 0.0;
      if (m < params.outChannels && k < totalK) {
        value = weight[m * totalK + k];
      }
      tileA[kk * TILE_M + mm] = value;
    }
    // B: consecutive invocations gather consecutive output pixels.
    for (var kk = threadIndex / TILE_N; kk < TILE_K; kk += THREADS / TILE_N) {
      let k = k0 + kk;
      let ci = k / taps;
      let tap = k % taps;
      let inRow = inRow0 + i32(tap / KERNEL_W);
      let inCol = inCol0 + i32(tap % KERNEL_W);
      var value = 0.0;
      if (columnValid && k < totalK && inRow >= 0 && inRow < i32(params.inHeight) && inCol >= 0 &&
          inCol < i32(params.inWidth)) {
        value = x[xBatchBase + ci * inPlane + u32(inRow) * params.inWidth + u32(inCol)];
      }
      tileB[kk * TILE_N + loadColumn] = value;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K; kk++) {
      var a: array<f32, THREAD_M>;
      var b: array<f32, THREAD_N>;
      for (var i = 0u; i < THREAD_M; i++) {
        a[i] = tileA[kk * TILE_M + localId.y + i * THREADS_M];
      }
      for (var j = 0u; j < THREAD_N; j++) {
        b[j] = tileB[kk * TILE_N + localId.x + j * THREADS_N];
      }
      for (var i = 0u; i < THREAD_M; i++) {
        for (var j = 0u; j < THREAD_N; j++) {
          acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < THREAD_M; i++) {
    let m = m0 + localId.y + i * THREADS_M;
    if (m >= params.outChannels) {
      continue;
    }
    var shift = 0.0;
    if (params.hasBias != 0u) {
      shift = bias[m];
    }
    for (var j = 0u; j < THREAD_N; j++) {
      let n = n0 + localId.x + j * THREADS_N;
      if (n >= totalN) {
        continue;
      }
      var value = acc[i][j] + shift;
      if (params.activation == 1u && value < 0.0) {
        value *= params.slope;
      }
      y[((n / outPlane) * params.outChannels + m) * outPlane + n % outPlane] = value;
    }
  }
}
