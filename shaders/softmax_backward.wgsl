// Gradient of softmax with temperature: dx = y * (dy - sum_k dy_k * y_k) / T, per row
// (the Jacobian of softmax(x / T) applied to dy). Rows as in softmax.wgsl.
// Buffers: y (the forward output), dy, dx (f32, same shape). Dispatch as softmax.wgsl.

override WORKGROUP_SIZE: u32 = 64u;

struct SoftmaxParams {
  rows: u32,
  n: u32,
  inner: u32,
  invTemperature: f32,
  rowStride: u32,
}

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: SoftmaxParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.y * params.rowStride + gid.x;
  if (row >= params.rows) { return; }
  let base = (row / params.inner) * params.n * params.inner + row % params.inner;
  var dot = 0.0;
  for (var k = 0u; k < params.n; k++) {
    let i = base + k * params.inner;
    dot += dy[i] * y[i];
  }
  for (var k = 0u; k < params.n; k++) {
    let i = base + k * params.inner;
    dx[i] = y[i] * (dy[i] - dot) * params.invTemperature;
  }
}
