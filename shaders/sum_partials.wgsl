// The combine pass of a split sum (sum.wgsl with splits > 1): adds each output's slice sums in
// slice order, so the result does not depend on which workgroup finished first, then scales:
//   out[o] = scale * sum over s of partials[o * splits + s]
// Buffers: partials (f32, [outputs, splits] row-major), out (f32, [outputs]).
// Dispatch: ceil(outputs / 64) workgroups folded into x and y (rowStride invocations per row).

override WORKGROUP_SIZE: u32 = 64u;

struct SumPartialsParams {
  outputs: u32,
  splits: u32,
  scale: f32,
  rowStride: u32,
}

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: SumPartialsParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let o = gid.y * params.rowStride + gid.x;
  if (o >= params.outputs) { return; }
  var acc = 0.0;
  for (var s = 0u; s < params.splits; s++) { acc += partials[o * params.splits + s]; }
  out[o] = acc * params.scale;
}
