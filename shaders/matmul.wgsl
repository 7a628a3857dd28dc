// Tiled, register-blocked batched matrix multiply.
//
//   C[z] = op(A[z]) · op(B[z]) (+ bias broadcast along rows) (then optional LeakyReLU)
//
// Tiling: a workgroup of WORKGROUP_COLS x WORKGROUP_ROWS invocations owns a TILE_M x TILE_N block of C,
// TILE_M = WORKGROUP_ROWS * ROWS_PER_INVOCATION and TILE_N = WORKGROUP_COLS * 4. Each invocation owns
// ROWS_PER_INVOCATION consecutive rows x 4 consecutive columns (one vec4 accumulator per row). The K
// dimension is walked TILE_K at a time: the workgroup stages a TILE_K x TILE_M slice of op(A) and a
// TILE_K x TILE_N slice of op(B) in workgroup memory, both k-major so that one k step reads a column of
// A-values and a row of B-values as vec4s, then every invocation does ROWS_PER_INVOCATION x 4 FMAs per k.
// Elements outside M, N or K are staged as zeros, so any M, N, K >= 1 is exact.
//
// Dispatch: workgroups = (ceil(N / TILE_N), ceil(M / TILE_M), batch); workgroup (wx, wy, z) computes
// C[z][wy * TILE_M .. +TILE_M][wx * TILE_N .. +TILE_N].
//
// Buffer layouts (row-major, batch strides in elements):
//   a    op(A) is M x K: stored [M,K] when transA = 0, [K,M] when transA = 1; batch z starts at z * aBatchStride
//   b    op(B) is K x N: stored [K,N] when transB = 0, [N,K] when transB = 1; batch z starts at z * bBatchStride
//        (bBatchStride = 0 shares one B across the batch)
//   bias [N], read only when hasBias = 1 (otherwise a small dummy buffer)
//   c    [M,N]; batch z starts at z * cBatchStride

struct Params {
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
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

override WORKGROUP_COLS: u32 = 16;
override WORKGROUP_ROWS: u32 = 16;
// 4 or 8: a multiple of 4 so a k step reads A as vec4s, at most MAX_ROWS_PER_INVOCATION (the size of
// the accumulator array, which must be a constant).
override ROWS_PER_INVOCATION: u32 = 4;
override TILE_K: u32 = 16;
const MAX_ROWS_PER_INVOCATION = 8u;

override TILE_M: u32 = WORKGROUP_ROWS * ROWS_PER_INVOCATION;
override TILE_N: u32 = WORKGROUP_COLS * 4u;
override WORKGROUP_SIZE: u32 = WORKGROUP_COLS * WORKGROUP_ROWS;

// aTile[k * TILE_M / 4 + m / 4][m % 4] = op(A)[tile row m][tile k]; bTile likewise with n for m.
var<workgroup> aTile: array<vec4<f32>, TILE_K * TILE_M / 4u>;
var<workgroup> bTile: array<vec4<f32>, TILE_K * TILE_N / 4u>;

// op(A)[m][k] of batch z, or 0 outside the matrix.
fn loadA(aBase: u32, m: u32, k: u32) -> f32 {
  if (m >= params.M || k >= params.K) {
    return 0.0;
  }
  if (params.transA == 1u) {
    return a[aBase + k * params.M + m];
  }
  return a[aBase + m * params.K + k];
}

// op(B)[k][n] of batch z, or 0 outside the matrix.
fn loadB(bBase: u32, k: u32, n: u32) -> f32 {
  if (k >= params.K || n >= params.N) {
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
  let z = workgroup.z;
  let tileRow = workgroup.y * TILE_M;
  let tileCol = workgroup.x * TILE_N;
  let aBase = z * params.aBatchStride;
  let bBase = z * params.bBatchStride;

  // Staging order: consecutive invocations take consecutive addresses of the stored layout, so global
  // reads coalesce whichever way A and B are stored. A staging unit is 4 tile rows (or columns) at one k.
  let aUnitsPerK = TILE_M / 4u;
  let bUnitsPerK = TILE_N / 4u;

  var acc: array<vec4<f32>, MAX_ROWS_PER_INVOCATION>;
  for (var k0 = 0u; k0 < params.K; k0 += TILE_K) {
    for (var unit = localIndex; unit < TILE_K * aUnitsPerK; unit += WORKGROUP_SIZE) {
      var k: u32;
      var m4: u32;
      if (params.transA == 1u) {
        k = unit / aUnitsPerK;
        m4 = unit % aUnitsPerK;
      } else {
        k = unit % TILE_K;
        m4 = unit / TILE_K;
      }
      let m = tileRow + m4 * 4u;
      aTile[k * aUnitsPerK + m4] = vec4(
        loadA(aBase, m, k0 + k), loadA(aBase, m + 1u, k0 + k), loadA(aBase, m + 2u, k0 + k), loadA(aBase, m + 3u, k0 + k));
    }
    for (var unit = localIndex; unit < TILE_K * bUnitsPerK; unit += WORKGROUP_SIZE) {
      var k: u32;
      var n4: u32;
      if (params.transB == 1u) {
        k = unit % TILE_K;
        n4 = unit / TILE_K;
      } else {
        k = unit / bUnitsPerK;
        n4 = unit % bUnitsPerK;
      }
      let n = tileCol + n4 * 4u;
      bTile[k * bUnitsPerK + n4] = vec4(
        loadB(bBase, k0 + k, n), loadB(bBase, k0 + k, n + 1u), loadB(bBase, k0 + k, n + 2u), loadB(bBase, k0 + k, n + 3u));
    }
    workgroupBarrier();
    for (var k = 0u; k < TILE_K; k++) {
      let bRow = bTile[k * bUnitsPerK + local.x];
      for (var q = 0u; q < ROWS_PER_INVOCATION / 4u; q++) {
        let aColumn = aTile[k * aUnitsPerK + local.y * (ROWS_PER_INVOCATION / 4u) + q];
        acc[4u * q] = fma(vec4(aColumn.x), bRow, acc[4u * q]);
        acc[4u * q + 1u] = fma(vec4(aColumn.y), bRow, acc[4u * q + 1u]);
        acc[4u * q + 2u] = fma(vec4(aColumn.z), bRow, acc[4u * q + 2u]);
        acc[4u * q + 3u] = fma(vec4(aColumn.w), bRow, acc[4u * q + 3u]);
      }
    }
    workgroupBarrier();
  }

  let col = tileCol + local.x * 4u;
  var biasRow = vec4(0.0);
  if (params.hasBias == 1u) {
    for (var j = 0u; j < 4u; j++) {
      if (col + j < params.N) {
        biasRow[j] = bias[col + j];
      }
    }
  }
  let cBase = z * params.cBatchStride;
  for (var i = 0u; i < ROWS_PER_INVOCATION; i++) {
    let row = tileRow + local.y * ROWS_PER_INVOCATION + i;
    if (row >= params.M) {
      break;
    }
    var value = acc[i] + biasRow;
    if (params.activation == 1u) {
      value = select(value, value * params.slope, value < vec4(0.0));
    }
    for (var j = 0u; j < 4u; j++) {
      if (col + j < params.N) {
        c[cBase + row * params.N + col + j] = value[j];
      }
    }
  }
}
