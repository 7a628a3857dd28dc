// Conv2d input gradient as an implicit GEMM with no col2im buffer:
//   dX[m][n] = sum_k A[m][k] * B[k][n]
//   m = ci                       (M = Ci)
//   n = (b, ih, iw) flattened    (N = batch * H * W)
//   k = (co, kh, kw) flattened   (K = Co * KERNEL_H * KERNEL_W)
//   A[m][k] = weight[co, ci, kh, kw]   (the weight read transposed: OIHW viewed as [Co][Ci][taps])
//   B[k][n] = dy[b, co, oh, ow] with oh = (ih + pad - kh) / STRIDE (likewise ow), zero when the
//             tap misses the stride grid (remainder not 0) or falls outside [0, Ho) x [0, Wo).
// That is y's forward sum turned around: the input pixel ih is read by output row oh through tap
// kh exactly when oh * STRIDE - pad + kh = ih.
//
// Tiling is that of conv2d_forward.wgsl: a TILE_M x TILE_N tile of dX per workgroup, TILE_K
// k-slices of A and B staged in workgroup memory (tileA[k][m], tileB[k][n]), a THREAD_M x THREAD_N
// register block per invocation with rows m = ty + i * (TILE_M / THREAD_M) and columns
// n = tx + j * (TILE_N / THREAD_N). Kernel size and stride are pipeline constants.
//
// Buffers: dy [N, Co, Ho, Wo]; weight [Co, Ci, KH, KW]; dx [N, Ci, H, W] (overwritten).
// Dispatch: (tiles of N over x and z, ceil(Ci / TILE_M), z), the N tile index being
// workgroup_id.x + workgroup_id.z * num_workgroups.x; workgroups past the last tile return.
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
  hasBias: u32, // unused here; the conv kernels share one uniform layout
  activation: u32, // unused here
  slope: f32, // unused here
  splitLength: u32, // unused here
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
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
        @builtin(workgroup_id) workgroupId: vec3u,
        @builtin(num_workgroups) workgroupCount: vec3u) {
  let inPlane = params.inHeight * params.inWidth;
  let outPlane = params.outHeight * params.outWidth;
  let totalN = params.batch * inPlane;
  let taps = KERNEL_H * KERNEL_W;
  let totalK = params.outChannels * taps;
  let n0 = (workgroupId.x + workgroupId.z * workgroupCount.x) * TILE_N;
  if (n0 >= totalN) {
    return;
  }
  let m0 = workgroupId.y * TILE_M;

  // Each invocation gathers the same column of B at every k step, so its pixel is decoded once.
  let loadColumn = threadIndex % TILE_N;
  let loadN = n0 + loadColumn;
  let columnValid = loadN < totalN;
  let loadBatch = loadN / inPlane;
  let loadPixel = loadN % inPlane;
  let paddedRow = i32(loadPixel / params.inWidth + params.pad);
  let paddedCol = i32(loadPixel % params.inWidth + params.pad);
  let dyBatchBase = loadBatch * params.outChannels * outPlane;

  var acc: array<array<f32, THREAD_N>, THREAD_M>;

  for (var k0 = 0u; k0 < totalK; k0 += TILE_K) {
    // A: consecutive invocations read consecutive k, i.e. consecutive taps of one filter.
    for (var e = threadIndex; e < TILE_K * TILE_M; e += THREADS) {
      let kk = e % TILE_K;
      let mm = e / TILE_K;
      let m = m0 + mm;
      let k = k0 + kk;
      var value = 0.0;
      if (m < params.inChannels && k < totalK) {
        value = weight[((k / taps) * params.inChannels + m) * taps + k % taps];
      }
      tileA[kk * TILE_M + mm] = value;
    }
    // B: consecutive invocations gather consecutive input pixels.
    for (var kk = threadIndex / TILE_N; kk < TILE_K; kk += THREADS / TILE_N) {
      let k = k0 + kk;
      let co = k / taps;
      let tap = k % taps;
      let rowOnGrid = paddedRow - i32(tap / KERNEL_W);
      let colOnGrid = paddedCol - i32(tap % KERNEL_W);
      let outRow = u32(rowOnGrid) / STRIDE;
      let outCol = u32(colOnGrid) / STRIDE;
      var value = 0.0;
      if (columnValid && k < totalK && rowOnGrid >= 0 && colOnGrid >= 0 &&
          u32(rowOnGrid) % STRIDE == 0u && u32(colOnGrid) % STRIDE == 0u &&
          outRow < params.outHeight && outCol < params.outWidth) {
        value = dy[dyBatchBase + co * outPlane + outRow * params.outWidth + outCol];
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
    if (m >= params.inChannels) {
      continue;
    }
    for (var j = 0u; j < THREAD_N; j++) {
      let n = n0 + localId.x + j * THREADS_N;
      if (n >= totalN) {
        continue;
      }
      dx[((n / inPlane) * params.inChannels + m) * inPlane + n % inPlane] = acc[i][j];
    }
  }
}
