// Adds the split-K partial products of matmul.wgsl and matmul_skinny.wgsl in split order (a fixed
// order, so the result is deterministic), then the bias, once, and the activation:
//   c[z][m][n] = act(sum over s of partials[s][z][m][n] + bias[n])
// Buffers: partials [splits, batch, M, N]; bias [N], read only when hasBias = 1 (otherwise a small
// dummy buffer); c [M,N], batch z starting at z * cBatchStride.
// Dispatch: one invocation per element of C (count = batch * M * N), folded into x and y
// (engine/webgpu/grid.ts elementwiseGrid): element = gid.y * rowStride + gid.x.

override WORKGROUP_SIZE: u32 = 256u;

struct MatmulSumSplitsParams {
  count: u32,
  matrixSize: u32, // M * N
  N: u32,
  splits: u32,
  hasBias: u32,
  activation: u32, // 0 none, 1 leaky_relu
  slope: f32,
  cBatchStride: u32,
  rowStride: u32,
}

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: MatmulSumSplitsParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.rowStride + gid.x;
  if (i >= params.count) {
    return;
  }
  var sum = 0.0;
  for (var s = 0u; s < params.splits; s++) {
    sum += partials[s * params.count + i];
  }
  if (params.hasBias == 1u) {
    sum += bias[i % params.N];
  }
  if (params.activation == 1u && sum < 0.0) {
    sum *= params.slope;
  }
  c[(i / params.matrixSize) * params.cBatchStride + i % params.matrixSize] = sum;
}
