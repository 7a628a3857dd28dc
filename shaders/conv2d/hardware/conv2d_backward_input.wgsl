// Conv2d input gradient as an implicit GEMM with no col2im buffer:
//   dX[m][n] = sum_k A[m][k] * B[k][n]
//   m = ci                       (M = Ci)
//   n = (b, ih, iw) flattened    (N = batch * H * W)
//   k = (co, kh, kw) flattened   (K = Co * KERNEL_H * KERNEL_W)
//   A[m][k] = weight[co, ci, kh, kw]   (the weight read transposed: OIHW viewed as [Co][Ci][taps])
//   B[k][n] = dy[b, co, oh, ow] with oh = (ih + pad - kh) / STRIDE (likewise ow), zero when the
//             tap misses the stride grid (remainder not 0) or falls outside [0, Ho) x [0, Wo).
// That is the forward sum turned around: input pixel ih is read by output row oh through tap kh
// exactly when oh * STRIDE - pad + kh = ih.
//
// Tiling is that of conv2d_forward.wgsl: a workgroup of (TILE_N / THREAD_N) x (TILE_M / THREAD_M)
// invocations owns a TILE_M x TILE_N tile of dX, stages TILE_K k-slices of A and B in workgroup
// memory as vec4s (tileA[k][m / 4], tileB[k][n / 4]), and each invocation accumulates a
// THREAD_M x THREAD_N register block with rows m = 4 * (p * (TILE_M / THREAD_M) + ty) + i and
// columns n = 4 * (q * (TILE_N / THREAD_N) + tx) + j. Kernel size and stride are pipeline constants.
//
// Split-K: split s sums k over [s * splitLength, (s + 1) * splitLength) and writes its partial
// result to out[s]; conv2d_sum_splits.wgsl adds the splits into dx. With one split, out is dx.
//
// Buffers: dy [N, Co, Ho, Wo]; weight [Co, Ci, KH, KW]; out [splits, N, Ci, H, W] (overwritten).
// Dispatch: (tiles of N over x and z, ceil(Ci / TILE_M) * splits, z), the N tile index being
// workgroup_id.x + workgroup_id.z * num_workgroups.x and workgroup_id.y being
// split * ceil(Ci / TILE_M) + the Ci tile index; workgroups past the last N tile return.
// splitLength is a multiple of TILE_K.
// Requires: THREAD_M, THREAD_N in {4, 8}; the invocation count a multiple of TILE_N / 4 (each
// invocation stages one fixed group of 4 columns of B).

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

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
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
const MAX_THREAD_N = 8u;

override THREADS_M = TILE_M / THREAD_M;
override THREADS_N = TILE_N / THREAD_N;
override THREADS = THREADS_M * THREADS_N;

var<workgroup> tileA: array<vec4<f32>, TILE_K * TILE_M / 4u>;
var<workgroup> tileB: array<vec4<f32>, TILE_K * TILE_N / 4u>;

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
  let rowTiles = (params.inChannels + TILE_M - 1u) / TILE_M;
  let split = workgroupId.y / rowTiles;
  let m0 = (workgroupId.y % rowTiles) * TILE_M;
  let kBegin = split * params.splitLength;
  let kEnd = min(kBegin + params.splitLength, totalK);

  // Each invocation stages the same 4 columns of B at every k step, so their pixels are decoded
  // once, as padded coordinates ih + pad, iw + pad.
  let loadGroup = threadIndex % (TILE_N / 4u);
  var paddedRow: array<i32, 4>;
  var paddedCol: array<i32, 4>;
  var dyBase: array<u32, 4>;
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + 4u * loadGroup + j;
    let pixel = n % inPlane;
    // A column past N gets a row far below zero, so it stages zeros.
    paddedRow[j] = select(-0x40000000, i32(pixel / params.inWidth + params.pad), n < totalN);
    paddedCol[j] = i32(pixel % params.inWidth + params.pad);
    dyBase[j] = (n / inPlane) * params.outChannels * outPlane;
  }

  var acc: array<array<vec4<f32>, MAX_THREAD_N / 4u>, MAX_THREAD_M>;

  for (var k0 = kBegin; k0 < kEnd; k0 += TILE_K) {
    // A: 4 input channels at one (co, tap) per unit; consecutive invocations take consecutive k.
    for (var unit = threadIndex; unit < TILE_K * TILE_M / 4u; unit += THREADS) {
      let kk = unit % TILE_K;
      let m4 = unit / TILE_K;
      let k = k0 + kk;
      let filterBase = (k / taps) * params.inChannels * taps + k % taps;
      var value = vec4<f32>();
      for (var i = 0u; i < 4u; i++) {
        let m = m0 + 4u * m4 + i;
        if (m < params.inChannels && k < kEnd) {
          value[i] = weight[filterBase + m * taps];
        }
      }
      tileA[kk * (TILE_M / 4u) + m4] = value;
    }
    // B: 4 consecutive input pixels at one k per unit, gathered from dy.
    for (var kk = threadIndex / (TILE_N / 4u); kk < TILE_K; kk += THREADS / (TILE_N / 4u)) {
      let k = k0 + kk;
      let co = k / taps;
      let tap = k % taps;
      let tapRow = i32(tap / KERNEL_W);
      let tapCol = i32(tap % KERNEL_W);
      var value = vec4<f32>();
      for (var j = 0u; j < 4u; j++) {
        let rowOnGrid = paddedRow[j] - tapRow;
        let colOnGrid = paddedCol[j] - tapCol;
        let outRow = u32(rowOnGrid) / STRIDE;
        let outCol = u32(colOnGrid) / STRIDE;
        if (k < kEnd && rowOnGrid >= 0 && colOnGrid >= 0 && u32(rowOnGrid) % STRIDE == 0u &&
            u32(colOnGrid) % STRIDE == 0u && outRow < params.outHeight && outCol < params.outWidth) {
          value[j] = dy[dyBase[j] + co * outPlane + outRow * params.outWidth + outCol];
        }
      }
      tileB[kk * (TILE_N / 4u) + loadGroup] = value;
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

  let splitBase = split * totalN * params.inChannels;
  for (var p = 0u; p < THREAD_M / 4u; p++) {
    for (var i = 0u; i < 4u; i++) {
      let m = m0 + 4u * (p * THREADS_M + localId.y) + i;
      if (m >= params.inChannels) {
        continue;
      }
      for (var q = 0u; q < THREAD_N / 4u; q++) {
        for (var j = 0u; j < 4u; j++) {
          let n = n0 + 4u * (q * THREADS_N + localId.x) + j;
          if (n < totalN) {
            out[splitBase + ((n / inPlane) * params.inChannels + m) * inPlane + n % inPlane] = acc[4u * p + i][q][j];
          }
        }
      }
    }
  }
}
