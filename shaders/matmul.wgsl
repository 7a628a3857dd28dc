// Tiled, register-blocked batched matrix multiply.
//
//   C[z] = op(A[z]) · op(B[z]) (+ bias broadcast along rows) (then optional LeakyReLU)
//
// Tiling: a workgroup of WORKGROUP_COLS x WORKGROUP_ROWS invocations owns a TILE_M x TILE_N block of C,
// TILE_M = WORKGROUP_ROWS * ROWS_PER_INVOCATION and TILE_N = WORKGROUP_COLS * COLS_PER_INVOCATION.
// K is walked TILE_K at a time: the workgroup stages a TILE_K x TILE_M slice of op(A) and a
// TILE_K x TILE_N slice of op(B) (unless STAGE_B is off) in workgroup memory, both k-major and in vec4s,
// then each invocation accumulates its ROWS_PER_INVOCATION x COLS_PER_INVOCATION block: per k it reads ROWS/4 + COLS/4 vec4s
// and does ROWS x COLS multiply-adds. Elements outside M, N or K are staged as zeros, so any
// M, N, K >= 1 is exact; only the stores are guarded.
//
// Which outputs an invocation (x, y) owns: rows in groups of 4 and columns in groups of 4, strided by the
// workgroup's extent, so that neighbouring invocations read neighbouring vec4s of the tiles (no bank
// conflicts on a GPU) and write neighbouring vec4s of C:
//   row = TILE_M * wy + 4 * (p * WORKGROUP_ROWS + y) + i,  p < ROWS_PER_INVOCATION / 4, i < 4
//   col = TILE_N * wx + 4 * (q * WORKGROUP_COLS + x) + j,  q < COLS_PER_INVOCATION / 4, j < 4
//
// Dispatch: workgroups = (ceil(N / TILE_N), ceil(M / TILE_M), splits * batch); workgroup (wx, wy, s * batch + z)
// computes C[z][wy * TILE_M .. +TILE_M][wx * TILE_N .. +TILE_N] over k in [s * splitLength, (s + 1) * splitLength).
// With one split that is all of K and the result goes to c; with several (split-K: the hardware plan's
// way to give a GPU enough workgroups when the output tiles alone are too few), c is a scratch buffer
// [splits, batch, M, N] of partial products, without bias or activation, which
// shaders/matmul_sum_splits.wgsl then adds in a fixed order.
//
// Buffer layouts (row-major, batch strides in elements):
//   a    op(A) is M x K: stored [M,K] when transA = 0, [K,M] when transA = 1; batch z starts at z * aBatchStride
//   b    op(B) is K x N: stored [K,N] when transB = 0, [N,K] when transB = 1; batch z starts at z * bBatchStride
//        (bBatchStride = 0 shares one B across the batch)
//   bias [N], read only when hasBias = 1 (otherwise a small dummy buffer)
//   c    [M,N]; batch z starts at z * cBatchStride (with one split; otherwise the scratch above)

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
  transA: u32,
  transB: u32,
  hasBias: u32,
  activation: u32, // 0 none, 1 leaky_relu
  slope: f32,
  aBatchStride: u32,
  bBatchStride: u32,
  cBatchStride: u32,
  batch: u32,
  splitLength: u32,
  splits: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> params: MatmulParams;

override WORKGROUP_COLS: u32 = 16;
override WORKGROUP_ROWS: u32 = 16;
// Multiples of 4, at most the MAX_ constants below (the accumulator array needs a constant size; the
// loops over these overrides have constant trip counts once the pipeline is built, so they unroll and
// the accumulators stay in registers).
override ROWS_PER_INVOCATION: u32 = 8;
override COLS_PER_INVOCATION: u32 = 8;
// The tiles take 4 * TILE_K * (TILE_M + TILE_N) bytes of workgroup memory.
override TILE_K: u32 = 16;
// When TILE_M covers all of M, no two invocations share a value of op(B): staging it through workgroup
// memory then only adds a store and a load per element, so the skinny tilings read it directly.
override STAGE_B: bool = true;
const MAX_ROWS_PER_INVOCATION = 16u;
const MAX_COLS_PER_INVOCATION = 16u;

override TILE_M: u32 = WORKGROUP_ROWS * ROWS_PER_INVOCATION;
override TILE_N: u32 = WORKGROUP_COLS * COLS_PER_INVOCATION;
override WORKGROUP_SIZE: u32 = WORKGROUP_COLS * WORKGROUP_ROWS;
override A_TILE_VEC4S: u32 = TILE_K * TILE_M / 4u;
override B_TILE_VEC4S: u32 = select(1u, TILE_K * TILE_N / 4u, STAGE_B);
// Rounds of staging in which each invocation writes one vec4 of a tile (the last may be partial).
override A_STAGING_ROUNDS: u32 = (A_TILE_VEC4S + WORKGROUP_SIZE - 1u) / WORKGROUP_SIZE;
override B_STAGING_ROUNDS: u32 = (B_TILE_VEC4S + WORKGROUP_SIZE - 1u) / WORKGROUP_SIZE;

// aTile[k * TILE_M / 4 + m / 4][m % 4] = op(A)[tileRow + m][k0 + k]
var<workgroup> aTile: array<vec4<f32>, A_TILE_VEC4S>;
// bTile[k * TILE_N / 4 + n / 4][n % 4] = op(B)[k0 + k][tileCol + n]
var<workgroup> bTile: array<vec4<f32>, B_TILE_VEC4S>;

// op(A)[m][k] of the batch starting at aBase, or 0 outside the matrix or past the split's end kEnd.
fn loadA(aBase: u32, m: u32, k: u32, kEnd: u32) -> f32 {
  if (m >= params.M || k >= kEnd) {
    return 0.0;
  }
  if (params.transA == 1u) {
    return a[aBase + k * params.M + m];
  }
  return a[aBase + m * params.K + k];
}

// op(B)[k][n] of the batch starting at bBase, or 0 outside the matrix or past the split's end kEnd.
fn loadB(bBase: u32, k: u32, n: u32, kEnd: u32) -> f32 {
  if (k >= kEnd || n >= params.N) {
    return 0.0;
  }
  if (params.transB == 1u) {
    return b[bBase + n * params.K + k];
  }
  return b[bBase + k * params.N + n];
}

@compute @workgroup_size(WORKGROUP_COLS, WORKGROUP_ROWS, 1)
fn main(
  @builtin(workgroup_id) workgroup: vec3<u32>,
  @builtin(local_invocation_id) local: vec3<u32>,
  @builtin(local_invocation_index) localIndex: u32,
) {
  let z = workgroup.z % params.batch;
  let split = workgroup.z / params.batch;
  let kBegin = split * params.splitLength;
  let kEnd = min(params.K, kBegin + params.splitLength);
  let tileRow = workgroup.y * TILE_M;
  let tileCol = workgroup.x * TILE_N;
  let aBase = z * params.aBatchStride;
  let bBase = z * params.bBatchStride;
  let aVec4sPerK = TILE_M / 4u;
  let bVec4sPerK = TILE_N / 4u;
  let rowGroups = ROWS_PER_INVOCATION / 4u;
  let colGroups = COLS_PER_INVOCATION / 4u;

  // acc[p * colGroups * 4 + q * 4 + i] holds rows (p, i) x columns (q, j = 0..3), as in the header.
  var acc: array<vec4<f32>, MAX_ROWS_PER_INVOCATION * MAX_COLS_PER_INVOCATION / 4u>;
  for (var k0 = kBegin; k0 < kEnd; k0 += TILE_K) {
    // Staging order: consecutive invocations take consecutive addresses of the stored layout, so the
    // global reads coalesce whichever way A and B are stored. A staging unit is 4 rows (or columns) at one k.
    for (var r = 0u; r < A_STAGING_ROUNDS; r++) {
      let unit = r * WORKGROUP_SIZE + localIndex;
      if (unit >= A_TILE_VEC4S) {
        break;
      }
      var k: u32;
      var m4: u32;
      if (params.transA == 1u) {
        k = unit / aVec4sPerK;
        m4 = unit % aVec4sPerK;
      } else {
        k = unit % TILE_K;
        m4 = unit / TILE_K;
      }
      let m = tileRow + 4u * m4;
      aTile[k * aVec4sPerK + m4] = vec4(
        loadA(aBase, m, k0 + k, kEnd), loadA(aBase, m + 1u, k0 + k, kEnd), loadA(aBase, m + 2u, k0 + k, kEnd),
        loadA(aBase, m + 3u, k0 + k, kEnd));
    }
    for (var r = 0u; r < B_STAGING_ROUNDS && STAGE_B; r++) {
      let unit = r * WORKGROUP_SIZE + localIndex;
      if (unit >= B_TILE_VEC4S) {
        break;
      }
      var k: u32;
      var n4: u32;
      if (params.transB == 1u) {
        k = unit % TILE_K;
        n4 = unit / TILE_K;
      } else {
        k = unit / bVec4sPerK;
        n4 = unit % bVec4sPerK;
      }
      let n = tileCol + 4u * n4;
      bTile[k * bVec4sPerK + n4] = vec4(
        loadB(bBase, k0 + k, n, kEnd), loadB(bBase, k0 + k, n + 1u, kEnd), loadB(bBase, k0 + k, n + 2u, kEnd),
        loadB(bBase, k0 + k, n + 3u, kEnd));
    }
    workgroupBarrier();
    for (var k = 0u; k < TILE_K; k++) {
      var bValues: array<vec4<f32>, MAX_COLS_PER_INVOCATION / 4u>;
      for (var q = 0u; q < colGroups; q++) {
        if (STAGE_B) {
          bValues[q] = bTile[k * bVec4sPerK + q * WORKGROUP_COLS + local.x];
        } else {
          let n = tileCol + 4u * (q * WORKGROUP_COLS + local.x);
          bValues[q] = vec4(
            loadB(bBase, k0 + k, n, kEnd), loadB(bBase, k0 + k, n + 1u, kEnd), loadB(bBase, k0 + k, n + 2u, kEnd),
            loadB(bBase, k0 + k, n + 3u, kEnd));
        }
      }
      for (var p = 0u; p < rowGroups; p++) {
        let aValues = aTile[k * aVec4sPerK + p * WORKGROUP_ROWS + local.y];
        for (var q = 0u; q < colGroups; q++) {
          let block = (p * colGroups + q) * 4u;
          acc[block] = fma(vec4(aValues.x), bValues[q], acc[block]);
          acc[block + 1u] = fma(vec4(aValues.y), bValues[q], acc[block + 1u]);
          acc[block + 2u] = fma(vec4(aValues.z), bValues[q], acc[block + 2u]);
          acc[block + 3u] = fma(vec4(aValues.w), bValues[q], acc[block + 3u]);
        }
      }
    }
    workgroupBarrier();
  }

  // A partial product goes to its place in the scratch buffer as it is: the bias and the activation
  // apply to the sum of the splits.
  let partial = params.splits > 1u;
  let cBase = select(z * params.cBatchStride, workgroup.z * params.M * params.N, partial);
  for (var q = 0u; q < colGroups; q++) {
    let col = tileCol + 4u * (q * WORKGROUP_COLS + local.x);
    var biasValues = vec4(0.0);
    if (params.hasBias == 1u && !partial) {
      for (var j = 0u; j < 4u; j++) {
        if (col + j < params.N) {
          biasValues[j] = bias[col + j];
        }
      }
    }
    for (var p = 0u; p < rowGroups; p++) {
      for (var i = 0u; i < 4u; i++) {
        let row = tileRow + 4u * (p * WORKGROUP_ROWS + local.y) + i;
        if (row >= params.M) {
          break;
        }
        var value = acc[(p * colGroups + q) * 4u + i] + biasValues;
        if (params.activation == 1u && !partial) {
          value = select(value, value * params.slope, value < vec4(0.0));
        }
        for (var j = 0u; j < 4u; j++) {
          if (col + j < params.N) {
            c[cBase + row * params.N + col + j] = value[j];
          }
        }
      }
    }
  }
}
