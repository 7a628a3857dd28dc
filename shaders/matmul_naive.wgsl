// Naive batched matrix multiply: one output element per invocation, reading A and B straight from
// global memory. It is the baseline the tiled kernel (matmul.wgsl) is benchmarked against, and the
// kernel to switch to when a tiled result is in doubt: it has no workgroup memory and no barriers.
//
//   C[z] = op(A[z]) · op(B[z]) (+ bias broadcast along rows) (then optional LeakyReLU)
//
// Dispatch: workgroups = (ceil(N / WORKGROUP_COLS), ceil(M / WORKGROUP_ROWS), batch);
// invocation (x, y) of workgroup (wx, wy, z) computes C[z][wy * WORKGROUP_ROWS + y][wx * WORKGROUP_COLS + x].
//
// Buffer layouts (row-major, batch strides in elements):
//   a    op(A) is M x K: stored [M,K] when transA = 0, [K,M] when transA = 1; batch z starts at z * aBatchStride
//   b    op(B) is K x N: stored [K,N] when transB = 0, [N,K] when transB = 1; batch z starts at z * bBatchStride
//        (bBatchStride = 0 shares one B across the batch)
//   bias [N], read only when hasBias = 1 (otherwise a small dummy buffer)
//   c    [M,N]; batch z starts at z * cBatchStride

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

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> params: MatmulParams;

override WORKGROUP_COLS: u32 = 16;
override WORKGROUP_ROWS: u32 = 16;

@compute @workgroup_size(WORKGROUP_COLS, WORKGROUP_ROWS, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col = gid.x;
  let row = gid.y;
  let z = gid.z;
  if (row >= params.M || col >= params.N) {
    return;
  }
  // Element strides of op(A) along m and k, and of op(B) along k and n, for either storage order.
  var aStrideM = params.K;
  var aStrideK = 1u;
  if (params.transA == 1u) {
    aStrideM = 1u;
    aStrideK = params.M;
  }
  var bStrideK = params.N;
  var bStrideN = 1u;
  if (params.transB == 1u) {
    bStrideK = 1u;
    bStrideN = params.K;
  }
  let aRow = z * params.aBatchStride + row * aStrideM;
  let bCol = z * params.bBatchStride + col * bStrideN;
  var sum = 0.0;
  for (var k = 0u; k < params.K; k++) {
    sum += a[aRow + k * aStrideK] * b[bCol + k * bStrideK];
  }
  if (params.hasBias == 1u) {
    sum += bias[col];
  }
  if (params.activation == 1u && sum < 0.0) {
    sum *= params.slope;
  }
  c[z * params.cBatchStride + row * params.N + col] = sum;
}
