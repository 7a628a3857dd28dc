// The first half of the SepBN attention's backward pass, one sample per workgroup (notation of
// sepbn_attention.wgsl, da = dL/da):
//   dlogit[n, j] = a[n, g, k] * (da[n, g, k] - sum_k' a[n, g, k'] * da[n, g, k']) / T   (softmax)
//   dpre[n, h]   = leaky_relu'(pre[n, h]) * sum_j dlogit[n, j] * fc2[j, h]
// Phase 1 gives each group to one invocation; after a storage barrier phase 2 spreads the H hidden
// units. sepbn_attention_backward_params.wgsl turns both into the gradients of pooled, fc1 and fc2.
// SETS > 0 (an unroll parameter, engine/webgpu/unroll.ts; SepBN's training op, train.ts): da is not
// an input but the mix's gradient, from batch_norm_backward_reduce.wgsl's per-sample sums (the
// gradients of gamma_nc and beta_nc) and the K = SETS parameter sets, in a phase 0:
//   da[n, g, k] = sum_{c in group g} sumDyXhat[n, c] * gamma_k[c] + sumDy[n, c] * beta_k[c]
// each a workgroup-wide sum, left in dlogit, which phase 1 then overwrites entry by entry.
// Buffers: a ([N, G, K]), then da ([N, G, K]) or, with SETS > 0, sumDy, sumDyXhat ([N, C]);
// pre ([N, H]), fc2 ([G*K, H]); with SETS > 0 gamma_k, beta_k ([C] each); dlogit ([N, G*K]),
// dpre ([N, H]).
// Dispatch: N workgroups in x.

override WORKGROUP_SIZE: u32 = 64u;

struct SepBnAttentionBackwardHiddenParams {
  H: u32,
  groups: u32,
  K: u32,
  invTemperature: f32,
  slope: f32,
  C: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
//#if SETS == 0
@group(0) @binding(1) var<storage, read> da: array<f32>;
//#end
//#if SETS > 0
@group(0) @binding(1) var<storage, read> sumDy: array<f32>;
@group(0) @binding(2) var<storage, read> sumDyXhat: array<f32>;
//#end
@group(0) @binding(${2 + (SETS > 0)}) var<storage, read> pre: array<f32>;
@group(0) @binding(${3 + (SETS > 0)}) var<storage, read> fc2: array<f32>;
//#for k in 0..SETS
@group(0) @binding(${5 + k}) var<storage, read> gamma${k}: array<f32>;
@group(0) @binding(${5 + SETS + k}) var<storage, read> beta${k}: array<f32>;
//#end
@group(0) @binding(${4 + (SETS > 0) * (1 + 2 * SETS)}) var<storage, read_write> dlogit: array<f32>;
@group(0) @binding(${5 + (SETS > 0) * (1 + 2 * SETS)}) var<storage, read_write> dpre: array<f32>;
@group(0) @binding(${6 + (SETS > 0) * (1 + 2 * SETS)}) var<uniform> params: SepBnAttentionBackwardHiddenParams;

//#if SETS > 0
var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

// The workgroup's sum of one value per invocation (a balanced tree; every invocation gets it).
fn workgroupSum(lid: u32, value: f32) -> f32 {
  partial[lid] = value;
  workgroupBarrier();
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width = width / 2u) {
    if (lid < width) { partial[lid] += partial[lid + width]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}
//#end

// da[n, g, k] at index i = (n * groups + g) * K + k.
fn incoming(i: u32) -> f32 {
//#if SETS == 0
  return da[i];
//#end
//#if SETS > 0
  return dlogit[i];
//#end
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = wid.x;
  let K = params.K;
  let J = params.groups * K;
//#if SETS > 0
  let C = params.C;
  let perGroup = C / params.groups;
  // Uniform control flow: the group loop and the sums are the same for every invocation.
  for (var g = 0u; g < params.groups; g++) {
//#for k in 0..SETS
    var mixGrad${k} = 0.0;
//#end
    for (var c = g * perGroup + lid; c < (g + 1u) * perGroup; c += WORKGROUP_SIZE) {
      let dgamma = sumDyXhat[n * C + c];
      let dbeta = sumDy[n * C + c];
//#for k in 0..SETS
      mixGrad${k} += dgamma * gamma${k}[c] + dbeta * beta${k}[c];
//#end
    }
//#for k in 0..SETS
    let total${k} = workgroupSum(lid, mixGrad${k});
    if (lid == 0u) { dlogit[(n * params.groups + g) * K + ${k}u] = total${k}; }
//#end
  }
  storageBarrier();
//#end
  for (var g = lid; g < params.groups; g += WORKGROUP_SIZE) {
    let first = (n * params.groups + g) * K;
    var dot = 0.0;
    for (var k = 0u; k < K; k++) { dot += incoming(first + k) * a[first + k]; }
    for (var k = 0u; k < K; k++) { dlogit[first + k] = a[first + k] * (incoming(first + k) - dot) * params.invTemperature; }
  }
  storageBarrier();
  let H = params.H;
  for (var h = lid; h < H; h += WORKGROUP_SIZE) {
    var s = 0.0;
    for (var j = 0u; j < J; j++) { s += dlogit[n * J + j] * fc2[j * H + h]; }
    dpre[n * H + h] = select(s * params.slope, s, pre[n * H + h] > 0.0);
  }
}
