// Softmax with temperature along one axis: y = exp((x - max) / T) / sum exp((x - max) / T).
// The tensor is viewed as [outer, n, inner] with the softmax axis in the middle; one invocation
// per (outer, inner) row walks its n values three times (max, sum, write). n is small in SepBN
// (K branches), so a row needs no workgroup cooperation.
// Buffers: x, y (f32, same shape). Dispatch: ceil(outer * inner / 64) workgroups in x and y.

override WORKGROUP_SIZE: u32 = 64u;

struct SoftmaxParams {
  rows: u32,
  n: u32,
  inner: u32,
  invTemperature: f32,
  rowStride: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: SoftmaxParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.y * params.rowStride + gid.x;
  if (row >= params.rows) { return; }
  let base = (row / params.inner) * params.n * params.inner + row % params.inner;
  var m = x[base];
  for (var k = 1u; k < params.n; k++) { m = max(m, x[base + k * params.inner]); }
  var total = 0.0;
  for (var k = 0u; k < params.n; k++) { total += exp((x[base + k * params.inner] - m) * params.invTemperature); }
  for (var k = 0u; k < params.n; k++) {
    let i = base + k * params.inner;
    y[i] = exp((x[i] - m) * params.invTemperature) / total;
  }
}
