// Strided copy: out (row-major, outShape) takes x read through arbitrary strides: 0 along the
// axes x is broadcast over (broadcast_to, the gradient of a sum), or x's own strides in another
// order (permute).
// Buffers: x (f32), out (f32). Dispatch: ceil(total / 256) workgroups folded into x and y.

override WORKGROUP_SIZE: u32 = 256u;

struct StridedCopyParams {
  total: u32,
  rank: u32,
  rowStride: u32,
  outShape: array<vec4<u32>, 2>,
  xStrides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: StridedCopyParams;

fn at(v: array<vec4<u32>, 2>, axis: u32) -> u32 {
  return v[axis / 4u][axis % 4u];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.rowStride + gid.x;
  if (i >= params.total) { return; }
  var rest = i;
  var offset = 0u;
  for (var axis = i32(params.rank) - 1; axis >= 0; axis--) {
    let d = at(params.outShape, u32(axis));
    offset += (rest % d) * at(params.xStrides, u32(axis));
    rest = rest / d;
  }
  out[i] = x[offset];
}
