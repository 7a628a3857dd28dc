// Sum (times a scale, for the mean) over any set of axes: one workgroup per output element and
// slice of its reduced elements. The input axes are split into kept and reduced ones (neighbours
// of the same kind merged first); output o picks its base offset from the kept coordinates, then
// the workgroup's invocations stride over its slice and finish with a tree reduction in workgroup
// memory, so long reductions (BatchNorm over N*H*W) stay parallel and accumulate in balanced
// partial sums. With splits > 1 the reduced elements r < reduceCount are cut into `splits` slices
// (slice s: q = reduceCount / splits elements, one more for s < reduceCount % splits, from
// s * q + min(s, reduceCount % splits)), each slice's sum lands at out[o * splits + s], and
// sum_partials.wgsl adds them up; with splits = 1, out[o] is the result.
// Buffers: x (f32, contiguous input), out (f32, [outputs, splits] row-major).
// Dispatch: outputs * splits workgroups, folded into x and y (rowStride workgroups per row).

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
  splits: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: SumParams;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

fn at(v: array<vec4<u32>, 2>, axis: u32) -> u32 {
  return v[axis / 4u][axis % 4u];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = wg.y * params.rowStride + wg.x;
  // Uniform control flow: every invocation of a workgroup takes the same branch.
  if (w >= params.outputs * params.splits) { return; }
  let o = w / params.splits;
  let s = w % params.splits;
  let q = params.reduceCount / params.splits;
  let longer = params.reduceCount % params.splits;
  let first = s * q + min(s, longer);
  let end = first + q + select(0u, 1u, s < longer);
  var rest = o;
  var base = 0u;
  for (var axis = i32(params.keptRank) - 1; axis >= 0; axis--) {
    let d = at(params.keptShape, u32(axis));
    base += (rest % d) * at(params.keptStrides, u32(axis));
    rest = rest / d;
  }
  var acc = 0.0;
  if (params.reducedRank == 1u) {
    // One run of reduced axes (a mean over H, W): no index arithmetic per element.
    let stride = at(params.reducedStrides, 0u);
    for (var r = first + lid; r < end; r += WORKGROUP_SIZE) { acc += x[base + r * stride]; }
  } else {
  for (var r = first + lid; r < end; r += WORKGROUP_SIZE) {
    var rr = r;
    var offset = base;
    for (var axis = i32(params.reducedRank) - 1; axis >= 0; axis--) {
      let d = at(params.reducedShape, u32(axis));
      offset += (rr % d) * at(params.reducedStrides, u32(axis));
      rr = rr / d;
    }
    acc += x[offset];
  }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width = width / 2u) {
    if (lid < width) { partial[lid] += partial[lid + width]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[w] = partial[0] * params.scale; }
}
