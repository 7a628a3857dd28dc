// Batched matrix multiply for op(A) of at most 8 rows (a Linear layer at a small batch), the hardware
// plan's kernel for that shape:
//
//   C[z] = op(A[z]) · op(B[z]) (+ bias broadcast along rows) (then optional LeakyReLU),  M <= 8
//
// With so few rows each value of op(B) serves at most 8 multiply-adds, so the pass streams B from
// memory and what matters is many workgroups reading it in wide, contiguous runs. A workgroup owns all
// 8 rows of TILE_N = 4 * COL_QUADS columns and one split of K, and spreads that split over K_LANES
// lanes: invocation (lane, quad) accumulates rows 0..7 of columns 4 * quad .. +3 over
// k = kBegin + lane, kBegin + lane + K_LANES, ... Then the workgroup adds its lanes' sums through
// workgroup memory, in lane order, so the result does not depend on scheduling.
//
// Which index runs fastest through the workgroup (LANES_ALONG_K): the lane where op(B) is stored
// [N,K] (transB), the column quad where it is stored [K,N]; either way neighbouring invocations read
// neighbouring addresses of B.
//
// Dispatch: workgroups = (ceil(N / TILE_N), 1, splits * batch); workgroup (wx, 0, s * batch + z)
// computes C[z][0..M][wx * TILE_N .. +TILE_N] over k in [s * splitLength, (s + 1) * splitLength).
// With one split the result goes to c; with several, c is a scratch buffer [splits, batch, M, N] of
// partial products without bias or activation, which shaders/matmul_sum_splits.wgsl adds.
//
// Buffer layouts (row-major, batch strides in elements), as in matmul.wgsl:
//   a    op(A) is M x K: stored [M,K] when transA = 0, [K,M] when transA = 1; batch z starts at z * aBatchStride
//   b    op(B) is K x N: stored [K,N] when transB = 0, [N,K] when transB = 1; batch z starts at z * bBatchStride
//        (bBatchStride = 0 shares one B across the batch)
//   bias [N], read only when hasBias = 1 and there is one split (otherwise a small dummy buffer)
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

override K_LANES: u32 = 32;
override COL_QUADS: u32 = 4;
override LANES_ALONG_K: bool = true;
const ROWS = 8u;

override WORKGROUP_SIZE: u32 = K_LANES * COL_QUADS;
override TILE_N: u32 = 4u * COL_QUADS;

// laneSums[(lane * ROWS + row) * COL_QUADS + quad]: one lane's sums for a row's 4 columns of a quad
// (WORKGROUP_SIZE * ROWS vec4s: 16 KiB for 128 invocations, the default limit every adapter offers).
var<workgroup> laneSums: array<vec4<f32>, WORKGROUP_SIZE * ROWS>;

// op(A)[m][k] of the batch starting at aBase (m < M and k < K: the caller's loops keep them there).
fn loadA(aBase: u32, m: u32, k: u32) -> f32 {
  if (params.transA == 1u) {
    return a[aBase + k * params.M + m];
  }
  return a[aBase + m * params.K + k];
}

// op(B)[k][n] of the batch starting at bBase (k < K), or 0 past the last column.
fn loadB(bBase: u32, k: u32, n: u32) -> f32 {
  if (n >= params.N) {
    return 0.0;
  }
  if (params.transB == 1u) {
    return b[bBase + n * params.K + k];
  }
  return b[bBase + k * params.N + n];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) workgroup: vec3<u32>, @builtin(local_invocation_index) localIndex: u32) {
  var lane: u32;
  var quad: u32;
  if (LANES_ALONG_K) {
    lane = localIndex % K_LANES;
    quad = localIndex / K_LANES;
  } else {
    quad = localIndex % COL_QUADS;
    lane = localIndex / COL_QUADS;
  }
  let z = workgroup.z % params.batch;
  let split = workgroup.z / params.batch;
  let kBegin = split * params.splitLength;
  let kEnd = min(params.K, kBegin + params.splitLength);
  let aBase = z * params.aBatchStride;
  let bBase = z * params.bBatchStride;
  let col = workgroup.x * TILE_N + 4u * quad;

  // acc[row] holds the row's 4 columns; the loops over ROWS have a constant trip count, so they unroll
  // and acc stays in registers.
  var acc: array<vec4<f32>, ROWS>;
  for (var k = kBegin + lane; k < kEnd; k += K_LANES) {
    let bValues = vec4(loadB(bBase, k, col), loadB(bBase, k, col + 1u), loadB(bBase, k, col + 2u), loadB(bBase, k, col + 3u));
    for (var row = 0u; row < ROWS; row++) {
      if (row < params.M) {
        acc[row] = fma(vec4(loadA(aBase, row, k)), bValues, acc[row]);
      }
    }
  }
  for (var row = 0u; row < ROWS; row++) {
    laneSums[(lane * ROWS + row) * COL_QUADS + quad] = acc[row];
  }
  workgroupBarrier();

  // A partial product goes to its place in the scratch buffer as it is: the bias and the activation
  // apply to the sum of the splits.
  let partial = params.splits > 1u;
  let cBase = select(z * params.cBatchStride, workgroup.z * params.M * params.N, partial);
  // Output vec4 o is (row, quad) = (o / COL_QUADS, o % COL_QUADS): neighbouring invocations write
  // neighbouring columns of a row.
  for (var o = localIndex; o < ROWS * COL_QUADS; o += WORKGROUP_SIZE) {
    let row = o / COL_QUADS;
    let q = o % COL_QUADS;
    if (row >= params.M) {
      break;
    }
    var value = vec4(0.0);
    for (var l = 0u; l < K_LANES; l++) {
      value += laneSums[(l * ROWS + row) * COL_QUADS + q];
    }
    let outCol = workgroup.x * TILE_N + 4u * q;
    for (var j = 0u; j < 4u; j++) {
      if (outCol + j < params.N) {
        var v = value[j];
        if (!partial) {
          if (params.hasBias == 1u) {
            v += bias[outCol + j];
          }
          if (params.activation == 1u && v < 0.0) {
            v *= params.slope;
          }
        }
        c[cBase + row * params.N + outCol + j] = v;
      }
    }
  }
}
