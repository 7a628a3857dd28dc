// SepBN's mix of its K parameter sets: out[n, c] = sum_k a[n, g(c), k] * p_k[c], k ascending,
// g(c) = c / channelsPerGroup. Each set is its own binding, so the K tensors are read in place.
// K is an unroll parameter (engine/webgpu/unroll.ts): one binding and one term per set.
// Buffers: a (f32, [N, groups, K]), p0 .. p{K-1} (f32, [C] each), out (f32, [N, C], row-major).
// Dispatch: ceil(N * C / WORKGROUP_SIZE) workgroups folded into x and y (elementwiseGrid);
// element i = gid.y * rowStride + gid.x.

override WORKGROUP_SIZE: u32 = 256u;

struct MixAffineParams {
  total: u32,
  C: u32,
  groups: u32,
  channelsPerGroup: u32,
  rowStride: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
//#for k in 0..K
@group(0) @binding(${k + 1}) var<storage, read> p${k}: array<f32>;
//#end
@group(0) @binding(${K + 1}) var<storage, read_write> out: array<f32>;
@group(0) @binding(${K + 2}) var<uniform> params: MixAffineParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.rowStride + gid.x;
  if (i >= params.total) { return; }
  let n = i / params.C;
  let c = i % params.C;
  let weights = (n * params.groups + c / params.channelsPerGroup) * ${K}u;
  var value = 0.0;
//#for k in 0..K
  value += a[weights + ${k}u] * p${k}[c];
//#end
  out[i] = value;
}
