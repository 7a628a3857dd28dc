// The first half of the SepBN attention's backward pass, one sample per workgroup (notation of
// sepbn_attention.wgsl, da = dL/da):
//   dlogit[n, j] = a[n, g, k] * (da[n, g, k] - sum_k' a[n, g, k'] * da[n, g, k']) / T   (softmax)
//   dpre[n, h]   = leaky_relu'(pre[n, h]) * sum_j dlogit[n, j] * fc2[j, h]
// Phase 1 gives each group to one invocation; after a storage barrier phase 2 spreads the H hidden
// units. sepbn_attention_backward_params.wgsl turns both into the gradients of pooled, fc1 and fc2.
// Buffers: a, da ([N, G, K]), pre ([N, H]), fc2 ([G*K, H]); dlogit ([N, G*K]), dpre ([N, H]).
// Dispatch: N workgroups in x.

override WORKGROUP_SIZE: u32 = 64u;

struct SepBnAttentionBackwardHiddenParams {
  H: u32,
  groups: u32,
  K: u32,
  invTemperature: f32,
  slope: f32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> da: array<f32>;
@group(0) @binding(2) var<storage, read> pre: array<f32>;
@group(0) @binding(3) var<storage, read> fc2: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogit: array<f32>;
@group(0) @binding(5) var<storage, read_write> dpre: array<f32>;
@group(0) @binding(6) var<uniform> params: SepBnAttentionBackwardHiddenParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = wid.x;
  let K = params.K;
  let J = params.groups * K;
  for (var g = lid; g < params.groups; g += WORKGROUP_SIZE) {
    let first = (n * params.groups + g) * K;
    var dot = 0.0;
    for (var k = 0u; k < K; k++) { dot += da[first + k] * a[first + k]; }
    for (var k = 0u; k < K; k++) { dlogit[first + k] = a[first + k] * (da[first + k] - dot) * params.invTemperature; }
  }
  storageBarrier();
  let H = params.H;
  for (var h = lid; h < H; h += WORKGROUP_SIZE) {
    var s = 0.0;
    for (var j = 0u; j < J; j++) { s += dlogit[n * J + j] * fc2[j * H + h]; }
    dpre[n * H + h] = select(s * params.slope, s, pre[n * H + h] > 0.0);
  }
}
