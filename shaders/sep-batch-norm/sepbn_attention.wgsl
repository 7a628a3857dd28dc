// SepBN's attention, one sample per workgroup (DESIGN.md's notation, j = g*K + k):
//   pre[n, h]      = poolScale * sum_c fc1[h, c] * pooled[n, c]   the 1x1 convolution C -> H
//   logit[n, j]    = sum_h fc2[j, h] * leaky_relu(pre[n, h])        H -> K per group
//   a[n, g, k]     = exp((logit[n, j] - m) / T) / sum_k' exp((logit[n, g*K + k'] - m) / T)
// with m the group's largest logit, as softmax.wgsl. Phase 1 spreads the H hidden units over the
// workgroup and leaves pre in its output (the backward pass reads it); after a storage barrier,
// phase 2 gives each group's K logits and their softmax to one invocation. The matmuls are tiny
// (H = C/10, K*G = 3): one dispatch in place of two matmuls, a LeakyReLU and a softmax.
// SETS > 0 (an unroll parameter, engine/webgpu/unroll.ts; SepBN's training op, train.ts) adds
// phase 3, after a second barrier: the mix of the K = SETS parameter sets by the sample's attention,
//   gammaNC[n, c] = sum_k a[n, g(c), k] * gamma_k[c],   betaNC likewise,   k ascending,
// as mix_affine.wgsl, so the training step needs no separate mix dispatches. With SETS > 0 the
// dispatch also has ceil(C / WORKGROUP_SIZE) more workgroups after the N samples', one channel an
// invocation, that combine the per-sample slices' statistics (batch_norm_stats.wgsl cut one slice
// a sample: every slice holds H*W values) into the channel's, as batch_norm_stats_combine.wgsl
// does for slices of any size; with equal slices its weights n_s / M are all 1/N:
//   mean = m_0 + (1/N) sum_s (m_s - m_0),   variance = v_0 + (1/N) sum_s (v_s - v_0 + (m_s - mean)^2)
// so the statistics need no dispatch of their own either.
// pooled[n, c] is read at n * pooledStrideN + c * pooledStrideC: [N, C] (C, 1), or the [C, N]
// per-sample means that batch_norm_stats.wgsl leaves with one slice a sample (1, N).
// Buffers: pooled, fc1 ([H, C]), fc2 ([G*K, H]); a ([N, G, K]), pre ([N, H]); with SETS > 0 also
// gamma_k, beta_k ([C] each, read), gammaNC, betaNC ([N, C]), sliceVariance ([C, N], read; pooled
// holds the slice means), mean and variance ([C]).
// Dispatch: N workgroups in x (N + ceil(C / WORKGROUP_SIZE) with SETS > 0).

override WORKGROUP_SIZE: u32 = 64u;

struct SepBnAttentionParams {
  C: u32,
  H: u32,
  groups: u32,
  K: u32,
  invTemperature: f32,
  slope: f32,
  poolScale: f32,
  pooledStrideN: u32,
  pooledStrideC: u32,
  N: u32,
}

@group(0) @binding(0) var<storage, read> pooled: array<f32>;
@group(0) @binding(1) var<storage, read> fc1: array<f32>;
@group(0) @binding(2) var<storage, read> fc2: array<f32>;
@group(0) @binding(3) var<storage, read_write> a: array<f32>;
@group(0) @binding(4) var<storage, read_write> pre: array<f32>;
//#for k in 0..SETS
@group(0) @binding(${5 + k}) var<storage, read> gamma${k}: array<f32>;
@group(0) @binding(${5 + SETS + k}) var<storage, read> beta${k}: array<f32>;
//#end
//#if SETS > 0
@group(0) @binding(${5 + 2 * SETS}) var<storage, read_write> gammaNC: array<f32>;
@group(0) @binding(${6 + 2 * SETS}) var<storage, read_write> betaNC: array<f32>;
@group(0) @binding(${7 + 2 * SETS}) var<storage, read> sliceVariance: array<f32>;
@group(0) @binding(${8 + 2 * SETS}) var<storage, read_write> meanOut: array<f32>;
@group(0) @binding(${9 + 2 * SETS}) var<storage, read_write> varianceOut: array<f32>;
//#end
@group(0) @binding(${5 + (SETS > 0) * (2 * SETS + 5)}) var<uniform> params: SepBnAttentionParams;

//#if SETS > 0
// Channel c's mean and biased variance from its N per-sample slices (pooled is [C, N]).
fn combineStatistics(c: u32) {
  if (c >= params.C) { return; }
  let N = params.N;
  let m0 = pooled[c * N];
  let v0 = sliceVariance[c * N];
  var meanShift = 0.0;
  for (var s = 1u; s < N; s++) { meanShift += pooled[c * N + s] - m0; }
  let mean = m0 + meanShift / f32(N);
  var varianceShift = 0.0;
  for (var s = 0u; s < N; s++) {
    let d = pooled[c * N + s] - mean;
    varianceShift += sliceVariance[c * N + s] - v0 + d * d;
  }
  meanOut[c] = mean;
  varianceOut[c] = v0 + varianceShift / f32(N);
}
//#end

fn leaky(v: f32) -> f32 {
  return select(v * params.slope, v, v > 0.0);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
//#if SETS > 0
  // The workgroups after the samples' combine the statistics (uniform per workgroup).
  if (wid.x >= params.N) {
    combineStatistics((wid.x - params.N) * WORKGROUP_SIZE + lid);
    return;
  }
//#end
  let n = wid.x;
  let C = params.C;
  let H = params.H;
  for (var h = lid; h < H; h += WORKGROUP_SIZE) {
    var acc = 0.0;
    for (var c = 0u; c < C; c++) { acc += fc1[h * C + c] * pooled[n * params.pooledStrideN + c * params.pooledStrideC]; }
    pre[n * H + h] = params.poolScale * acc;
  }
  storageBarrier();
  let K = params.K;
  for (var g = lid; g < params.groups; g += WORKGROUP_SIZE) {
    let first = (n * params.groups + g) * K;
    var m = 0.0;
    for (var k = 0u; k < K; k++) {
      let row = (g * K + k) * H;
      var logit = 0.0;
      for (var h = 0u; h < H; h++) { logit += fc2[row + h] * leaky(pre[n * H + h]); }
      a[first + k] = logit;
      m = select(max(m, logit), logit, k == 0u);
    }
    var total = 0.0;
    for (var k = 0u; k < K; k++) { total += exp((a[first + k] - m) * params.invTemperature); }
    for (var k = 0u; k < K; k++) { a[first + k] = exp((a[first + k] - m) * params.invTemperature) / total; }
  }
//#if SETS > 0
  storageBarrier();
  let perGroup = C / params.groups;
  for (var c = lid; c < C; c += WORKGROUP_SIZE) {
    let weights = (n * params.groups + c / perGroup) * ${SETS}u;
    var gamma = 0.0;
    var beta = 0.0;
//#for k in 0..SETS
    gamma += a[weights + ${k}u] * gamma${k}[c];
    beta += a[weights + ${k}u] * beta${k}[c];
//#end
    gammaNC[n * C + c] = gamma;
    betaNC[n * C + c] = beta;
  }
//#end
}
