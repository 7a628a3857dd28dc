// Sum (times a scale) over axes whose elements are few per output (the K = 3 parameter sets of
// SepBN, a batch of 8): one invocation per output element, looping over its reduced elements.
// sum.wgsl's workgroup-per-output layout would leave most of each workgroup idle here.
// The axes are split into kept and reduced runs exactly as for sum.wgsl.
// Buffers: x (f32, contiguous input), out (f32, one value per kept coordinate, row-major).
// Dispatch: ceil(outputs / 64) workgroups folded into x and y (rowStride invocations per row).

override WORKGROUP_SIZE: u32 = 64u;

struct SumParams {
  outputs: u32,
  reduceCount: u32,
  keptRank: u32,
  reducedRank: u32,
  scale: f32,
  rowStride: u32,
  keptShape: array<vec4<u32>, 2>,
  keptStrides: array<vec4<u32>, 2>,
  reducedShape: array<vec4<u32>, 2>,
  reducedStrides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: SumParams;

fn at(v: array<vec4<u32>, 2>, axis: u32) -> u32 {
  return v[axis / 4u][axis % 4u];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let o = gid.y * params.rowStride + gid.x;
  if (o >= params.outputs) { return; }
  var rest = o;
  var base = 0u;
  for (var axis = i32(params.keptRank) - 1; axis >= 0; axis--) {
    let d = at(params.keptShape, u32(axis));
    base += (rest % d) * at(params.keptStrides, u32(axis));
    rest = rest / d;
  }
  var acc = 0.0;
  for (var r = 0u; r < params.reduceCount; r++) {
    var rr = r;
    var offset = base;
    for (var axis = i32(params.reducedRank) - 1; axis >= 0; axis--) {
      let d = at(params.reducedShape, u32(axis));
      offset += (rr % d) * at(params.reducedStrides, u32(axis));
      rr = rr / d;
    }
    acc += x[offset];
  }
  out[o] = acc * params.scale;
}
