// Elementwise binary ops with NumPy broadcasting: out[i] = f(a[ia], b[ib]).
// The output index i is split into coordinates of the (collapsed) output shape; each input is
// read through its own strides, which are 0 along the axes it is broadcast over.
// OP selects f at pipeline creation (0 add, 1 sub, 2 mul, 3 div, 4 leaky_relu gradient:
// a is the forward input x, b the incoming gradient, alpha the negative slope); any other code
// yields NaN, so a code the shader lacks cannot pass for another op.
// Buffers: a, b (f32, their own shapes), out (f32, outShape, row-major).
// Dispatch: ceil(total / 256) workgroups, folded into x and y when over 65535.

override OP: u32 = 0u;
override WORKGROUP_SIZE: u32 = 256u;

struct BinaryParams {
  total: u32,
  rank: u32,
  alpha: f32,
  rowStride: u32,          // invocations per row of the 2-D dispatch grid
  outShape: array<vec4<u32>, 2>,
  aStrides: array<vec4<u32>, 2>,
  bStrides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: BinaryParams;

fn at(v: array<vec4<u32>, 2>, axis: u32) -> u32 {
  return v[axis / 4u][axis % 4u];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.rowStride + gid.x;
  if (i >= params.total) { return; }
  var rest = i;
  var ia = 0u;
  var ib = 0u;
  for (var axis = i32(params.rank) - 1; axis >= 0; axis--) {
    let d = at(params.outShape, u32(axis));
    let coord = rest % d;
    rest = rest / d;
    ia += coord * at(params.aStrides, u32(axis));
    ib += coord * at(params.bStrides, u32(axis));
  }
  let x = a[ia];
  let y = b[ib];
  var r: f32;
  switch OP {
    case 0u: { r = x + y; }
    case 1u: { r = x - y; }
    case 2u: { r = x * y; }
    case 3u: { r = x / y; }
    case 4u: { r = select(y * params.alpha, y, x > 0.0); }
    // A `let`, because a constant expression that evaluates to NaN does not compile.
    default: { let quietNanBits = 0x7fc00000u; r = bitcast<f32>(quietNanBits); }
  }
  out[i] = r;
}
