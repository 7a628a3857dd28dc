// Elementwise unary ops: out[i] = f(x[i]).
// OP selects f at pipeline creation: 0 affine (alpha * x + beta), 1 leaky_relu (alpha is the
// negative slope), 2 abs, 3 sign (0 at 0, as torch.sign), 4 rsqrt (1 / sqrt(x + beta)); any
// other code yields NaN, so a code the shader lacks cannot pass for another op.
// Buffers: x, out (f32, same size). Dispatch: ceil(total / 256) workgroups folded into x and y.

override OP: u32 = 0u;
override WORKGROUP_SIZE: u32 = 256u;

struct UnaryParams {
  total: u32,
  rowStride: u32,
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: UnaryParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.rowStride + gid.x;
  if (i >= params.total) { return; }
  let v = x[i];
  var r: f32;
  switch OP {
    case 0u: { r = params.alpha * v + params.beta; }
    case 1u: { r = select(v * params.alpha, v, v > 0.0); }
    case 2u: { r = abs(v); }
    case 3u: { r = sign(v); }
    case 4u: { r = inverseSqrt(v + params.beta); }
    // A `let`, because a constant expression that evaluates to NaN does not compile.
    default: { let quietNanBits = 0x7fc00000u; r = bitcast<f32>(quietNanBits); }
  }
  out[i] = r;
}
