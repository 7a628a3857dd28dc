// Conv2d forward, y = activation(conv(x, weight) + bias), as an implicit GEMM with no im2col buffer:
//   Y[m][n] = sum_k A[m][k] * B[k][n]
//   m = co                       (M = Co)
//   n = (b, oh, ow) flattened    (N = batch * Ho * Wo)
//   k = (ci, kh, kw) flattened   (K = Ci * KERNEL_H * KERNEL_W)
//   A[m][k] = weight[co, ci, kh, kw]   (OIHW is already row-major [Co, K])
//   B[k][n] = x[b, ci, oh*stride - pad + kh, ow*stride - pad + kw], zero outside the image,
//             gathered from x while the tile is staged.
//
// Tiling: a workgroup of (TILE_N / THREAD_N) x (TILE_M / THREAD_M) invocations owns a TILE_M x TILE_N
// tile of Y and walks K in steps of TILE_K, staging A and B k-slices in workgroup memory as vec4s
// of 4 consecutive rows (columns): tileA[k][m / 4], tileB[k][n / 4]. Each invocation accumulates a
// THREAD_M x THREAD_N register block; per k it reads THREAD_M / 4 + THREAD_N / 4 vec4s and does
// THREAD_M * THREAD_N multiply-adds. Its rows come in groups of 4 strided by the workgroup's extent,
//   m = 4 * (p * (TILE_M / THREAD_M) + ty) + i,  n = 4 * (q * (TILE_N / THREAD_N) + tx) + j,
// so neighbouring invocations read neighbouring vec4s and write neighbouring pixels of y.
// The kernel size and stride are pipeline constants so the gather divides by constants.
//
// Split-K: split s sums k over [s * splitLength, (s + 1) * splitLength) and writes its partial
// result to out[s]; conv2d_sum_splits.wgsl adds the splits and applies the activation (the launch
// passes activation none here), while split 0 alone adds the bias. With one split, out is y.
//
// Buffers: x [N, Ci, H, W]; weight [Co, Ci, KH, KW]; bias [Co] (read only when hasBias; bind any
// buffer otherwise); out [splits, N, Co, Ho, Wo] (overwritten).
// Dispatch: (tiles of N over x and z, ceil(Co / TILE_M) * splits, z) where the N tile index is
// workgroup_id.x + workgroup_id.z * num_workgroups.x, so large batches stay within 65535 per
// dimension, and workgroup_id.y is split * ceil(Co / TILE_M) + the Co tile index; workgroups past
// the last N tile return at once. splitLength is a multiple of TILE_K.
// Requires: THREAD_M in {4, 8}, THREAD_N in {4, 8, 16}; the invocation count a multiple of TILE_N / 4 (each
// invocation stages one fixed group of 4 columns of B); engine/ops/conv2d/hardware-launch.ts checks this.

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
  splitLength: u32, // k per split, a multiple of TILE_K
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Conv2dParams;

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
  let rowTiles = (params.outChannels + TILE_M - 1u) / TILE_M;
  let split = workgroupId.y / rowTiles;
  let m0 = (workgroupId.y % rowTiles) * TILE_M;
  let kBegin = split * params.splitLength;
  let kEnd = min(kBegin + params.splitLength, totalK);

  // Each invocation stages the same 4 columns of B at every k step, so their pixels are decoded
  // once: where each column's window starts in x (offset of row 0, col 0 of the window) and
  // whether it lies in Y at all.
  let loadGroup = threadIndex % (TILE_N / 4u);
  var windowRow: array<i32, 4>;
  var windowCol: array<i32, 4>;
  var xBase: array<u32, 4>;
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + 4u * loadGroup + j;
    let pixel = n % outPlane;
    // A column past N gets a window row far outside the image, so it stages zeros.
    windowRow[j] = select(-0x40000000, i32((pixel / params.outWidth) * STRIDE) - i32(params.pad), n < totalN);
    windowCol[j] = i32((pixel % params.outWidth) * STRIDE) - i32(params.pad);
    xBase[j] = (n / outPlane) * params.inChannels * inPlane;
  }

  var acc: array<array<vec4<f32>, MAX_THREAD_N / 4u>, MAX_THREAD_M>;

  for (var k0 = kBegin; k0 < kEnd; k0 += TILE_K) {
    // A: 4 weight rows at one k per unit; consecutive invocations take consecutive k.
    for (var unit = threadIndex; unit < TILE_K * TILE_M / 4u; unit += THREADS) {
      let kk = unit % TILE_K;
      let m4 = unit / TILE_K;
      let k = k0 + kk;
      var value = vec4<f32>();
      for (var i = 0u; i < 4u; i++) {
        let m = m0 + 4u * m4 + i;
        if (m < params.outChannels && k < kEnd) {
          value[i] = weight[m * totalK + k];
        }
      }
      tileA[kk * (TILE_M / 4u) + m4] = value;
    }
    // B: 4 consecutive output pixels at one k per unit, gathered from x.
    for (var kk = threadIndex / (TILE_N / 4u); kk < TILE_K; kk += THREADS / (TILE_N / 4u)) {
      let k = k0 + kk;
      let ci = k / taps;
      let tap = k % taps;
      let tapRow = i32(tap / KERNEL_W);
      let tapCol = i32(tap % KERNEL_W);
      var value = vec4<f32>();
      for (var j = 0u; j < 4u; j++) {
        let inRow = windowRow[j] + tapRow;
        let inCol = windowCol[j] + tapCol;
        if (k < kEnd && inRow >= 0 && inRow < i32(params.inHeight) && inCol >= 0 && inCol < i32(params.inWidth)) {
          value[j] = x[xBase[j] + ci * inPlane + u32(inRow) * params.inWidth + u32(inCol)];
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

  // Where each of this invocation's columns lands in out for channel 0, decoded once rather than
  // per channel: dividing by a value known only at run time costs a CPU driver one scalar
  // division per SIMD lane, which with a short reduction rivals the multiply-adds.
  let splitBase = split * totalN * params.outChannels;
  var yColumn: array<array<u32, 4>, MAX_THREAD_N / 4u>;
  for (var q = 0u; q < THREAD_N / 4u; q++) {
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + 4u * (q * THREADS_N + localId.x) + j;
      yColumn[q][j] = splitBase + (n / outPlane) * params.outChannels * outPlane + n % outPlane;
    }
  }
  for (var p = 0u; p < THREAD_M / 4u; p++) {
    for (var i = 0u; i < 4u; i++) {
      let m = m0 + 4u * (p * THREADS_M + localId.y) + i;
      if (m >= params.outChannels) {
        continue;
      }
      var shift = 0.0;
      if (params.hasBias != 0u && split == 0u) {
        shift = bias[m];
      }
      for (var q = 0u; q < THREAD_N / 4u; q++) {
        for (var j = 0u; j < 4u; j++) {
          let n = n0 + 4u * (q * THREADS_N + localId.x) + j;
          if (n >= totalN) {
            continue;
          }
          var value = acc[4u * p + i][q][j] + shift;
          if (params.activation == 1u && value < 0.0) {
            value *= params.slope;
          }
          out[yColumn[q][j] + m * outPlane] = value;
        }
      }
    }
  }
}
