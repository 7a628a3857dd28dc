// Register-blocked batched matrix multiply that shares op(A) through subgroup broadcasts instead of
// workgroup memory; the tiling for CPU rasterisers (lavapipe).
//
//   C[z] = op(A[z]) · op(B[z]) (+ bias broadcast along rows) (then optional LeakyReLU)
//
// Why: lavapipe runs a subgroup as one SIMD vector of LANES invocations, and every load from a
// buffer or from workgroup memory is done lane by lane (a scalar load, a bounds check and an insert
// per lane), while a subgroup broadcast is one register shuffle. So the kernel counts loads: each
// invocation loads only the values no other invocation of its subgroup needs, and gets the shared
// ones from the lane that loaded them.
//
// Blocking: a subgroup owns ROWS = LANES * ROWS_PER_LANE rows of C (the workgroup's row band) and
// each invocation COLS = 4 * COL_VEC4S consecutive columns of it, so an invocation holds
// ROWS x COLS accumulators. K is walked 4 at a time. Per step an invocation loads its COLS columns
// of op(B) at the 4 k's (values only it needs) and ROWS_PER_LANE rows of op(A) at the 4 k's (rows
// ROWS_PER_LANE * lane + r of the band), which it then broadcasts to the rest of the subgroup.
// Every load is a vec4 along whichever of the two dimensions is contiguous in memory, so a step
// costs COL_VEC4S * 4 + ROWS_PER_LANE vec4 loads for 4 * ROWS * COLS multiply-adds (1024 per 12
// at 32 x 8). Indices past M or N are clamped (their values are never stored); op(A) is zeroed past
// K so that the clamped op(B) values there add nothing.
//
// Alignment (checked by the launch, engine/ops/matmul-launch.ts): N and the batch strides are
// multiples of 4, and so is the contiguous dimension of op(A) (K, or M when TRANS_A) and of op(B)
// (N, or K when TRANS_B); with TRANS_A, ROWS_PER_LANE is a multiple of 4.
//
// The blocks are spelled out with //#for and //#if (engine/webgpu/unroll.ts) so that every
// accumulator is a register. Unroll parameters: LANES (the adapter's subgroup size, which must be
// fixed), ROWS_PER_LANE, COL_VEC4S, WORKGROUP_SIZE (a multiple of LANES), TRANS_A and TRANS_B
// (0 or 1: the storage orders, which the uniforms' transA and transB must match).
//
// Dispatch: workgroups = (ceil(N / (WORKGROUP_SIZE * COLS)), ceil(M / ROWS), batch).
// Buffer layouts: as shaders/matmul.wgsl (op(A) is M x K, stored [M,K] or, when TRANS_A, [K,M]; op(B)
// is K x N, stored [K,N] or, when TRANS_B, [N,K]; C is [M,N]; batch strides in elements).

enable subgroups;

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
}

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> params: MatmulParams;

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(
  @builtin(workgroup_id) workgroup: vec3<u32>,
  @builtin(local_invocation_index) localIndex: u32,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let z = workgroup.z;
  // Offsets below are in vec4s.
  let aBase = z * params.aBatchStride / 4u;
  let bBase = z * params.bBatchStride / 4u;
  let rowBand = workgroup.y * ${LANES * ROWS_PER_LANE}u;
  let firstCol = (workgroup.x * ${WORKGROUP_SIZE}u + localIndex) * ${4 * COL_VEC4S}u;
  let lastRow = M - 1u;

  // acc_R_Q: row rowBand + R, columns firstCol + 4 Q .. + 3.
//#for row in 0..LANES * ROWS_PER_LANE
//#for q in 0..COL_VEC4S
  var acc_${row}_${q} = vec4<f32>();
//#end
//#end

  for (var k0 = 0u; k0 < K; k0 += 4u) {
    let inK = vec4(k0, k0 + 1u, k0 + 2u, k0 + 3u) < vec4(K);
    // b_U_Q = op(B)[k0 + U][firstCol + 4 Q .. + 3]
//#if 1 - TRANS_B
//#for u in 0..4
    let bRow${u} = bBase + min(k0 + ${u}u, K - 1u) * (N / 4u);
//#for q in 0..COL_VEC4S
    let b_${u}_${q} = b[bRow${u} + min(firstCol / 4u + ${q}u, N / 4u - 1u)];
//#end
//#end
//#end
//#if TRANS_B
//#for j in 0..4 * COL_VEC4S
    let bCol${j} = b[bBase + min(firstCol + ${j}u, N - 1u) * (K / 4u) + k0 / 4u];
//#end
//#for u in 0..4
//#for q in 0..COL_VEC4S
    let b_${u}_${q} = vec4(bCol${4 * q}[${u}], bCol${4 * q + 1}[${u}], bCol${4 * q + 2}[${u}], bCol${4 * q + 3}[${u}]);
//#end
//#end
//#end
    // aK_R = op(A)[band row ROWS_PER_LANE * lane + R][k0 .. k0 + 3], zero past K.
//#if 1 - TRANS_A
//#for r in 0..ROWS_PER_LANE
    let aK_${r} = a[aBase + min(rowBand + ${ROWS_PER_LANE}u * lane + ${r}u, lastRow) * (K / 4u) + k0 / 4u];
//#end
//#end
//#if TRANS_A
//#for u in 0..4
//#for v in 0..ROWS_PER_LANE / 4
    let aM_${u}_${v} = select(vec4<f32>(), a[aBase + min(k0 + ${u}u, K - 1u) * (M / 4u) + min(rowBand / 4u + ${ROWS_PER_LANE / 4}u * lane + ${v}u, lastRow / 4u)], inK[${u}]);
//#end
//#end
//#for r in 0..ROWS_PER_LANE
    let aK_${r} = vec4(aM_0_${r / 4}[${r % 4}], aM_1_${r / 4}[${r % 4}], aM_2_${r / 4}[${r % 4}], aM_3_${r / 4}[${r % 4}]);
//#end
//#end
//#for r in 0..ROWS_PER_LANE
//#for from in 0..LANES
    {
      let w = subgroupBroadcast(aK_${r}, ${from}u);
//#for q in 0..COL_VEC4S
      acc_${ROWS_PER_LANE * from + r}_${q} = fma(vec4(w.w), b_3_${q}, fma(vec4(w.z), b_2_${q}, fma(vec4(w.y), b_1_${q}, fma(vec4(w.x), b_0_${q}, acc_${ROWS_PER_LANE * from + r}_${q}))));
//#end
    }
//#end
//#end
  }

  let cBase = z * params.cBatchStride / 4u;
//#for q in 0..COL_VEC4S
  {
    let col = firstCol + ${4 * q}u;
    var biasValues = vec4<f32>();
    if (params.hasBias == 1u && col < N) {
      biasValues = vec4(bias[col], bias[col + 1u], bias[col + 2u], bias[col + 3u]);
    }
//#for row in 0..LANES * ROWS_PER_LANE
    store(cBase, rowBand + ${row}u, col, acc_${row}_${q} + biasValues);
//#end
  }
//#end
}

// Writes C[row][col .. col + 3] (after the activation) if it lies inside C.
fn store(cBase: u32, row: u32, col: u32, sum: vec4<f32>) {
  if (row >= params.M || col >= params.N) {
    return;
  }
  var value = sum;
  if (params.activation == 1u) {
    value = select(value, value * params.slope, value < vec4(0.0));
  }
  c[cBase + (row * params.N + col) / 4u] = value;
}
