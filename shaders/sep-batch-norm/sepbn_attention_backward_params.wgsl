// The second half of the SepBN attention's backward pass: three families of independent dot
// products, one invocation per output element (notation of sepbn_attention_backward_hidden.wgsl):
//   dpooled[n, c] = poolScale * sum_h dpre[n, h] * fc1[h, c]      elements [0, N*C)
//   dfc1[h, c]    = poolScale * sum_n dpre[n, h] * pooled[n, c]   the next H*C
//   dfc2[j, h]    = sum_n dlogit[n, j] * leaky_relu(pre[n, h])    the next G*K*H
// and with BIAS = 1 (an unroll parameter; SepBN's training op, which takes the convolution's bias
// b: its per-sample means are mean_hw(x) + b[c], the only place b reaches the output, since the
// normalisation removes it from xhat):
//   dbias[c]      = sum_n dpooled[n, c]                            the last C
// Buffers: dlogit ([N, G*K]), dpre, pre ([N, H]), pooled, fc1 ([H, C]); dpooled, dfc1 ([H, C]),
// dfc2 ([G*K, H]); with BIAS dbias ([C]). pooled[n, c] and dpooled[n, c] lie at n * pooledStrideN + c * pooledStrideC:
// [N, C] (C, 1), or [C, N] (1, N) as SepBN's training op keeps its per-sample means.
// Dispatch: ceil(total / WORKGROUP_SIZE) workgroups folded into x and y (elementwiseGrid).

override WORKGROUP_SIZE: u32 = 256u;

struct SepBnAttentionBackwardParams {
  N: u32,
  C: u32,
  H: u32,
  J: u32,
  slope: f32,
  poolScale: f32,
  rowStride: u32,
  pooledStrideN: u32,
  pooledStrideC: u32,
}

@group(0) @binding(0) var<storage, read> dlogit: array<f32>;
@group(0) @binding(1) var<storage, read> dpre: array<f32>;
@group(0) @binding(2) var<storage, read> pre: array<f32>;
@group(0) @binding(3) var<storage, read> pooled: array<f32>;
@group(0) @binding(4) var<storage, read> fc1: array<f32>;
@group(0) @binding(5) var<storage, read_write> dpooled: array<f32>;
@group(0) @binding(6) var<storage, read_write> dfc1: array<f32>;
@group(0) @binding(7) var<storage, read_write> dfc2: array<f32>;
//#if BIAS
@group(0) @binding(8) var<storage, read_write> dbias: array<f32>;
//#end
@group(0) @binding(${8 + BIAS}) var<uniform> params: SepBnAttentionBackwardParams;

// dpooled[n, c]: poolScale * sum_h dpre[n, h] * fc1[h, c].
fn pooledGrad(n: u32, c: u32) -> f32 {
  var s = 0.0;
  for (var h = 0u; h < params.H; h++) { s += dpre[n * params.H + h] * fc1[h * params.C + c]; }
  return params.poolScale * s;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.rowStride + gid.x;
  let N = params.N;
  let C = params.C;
  let H = params.H;
  let pooledEnd = N * C;
  let fc1End = pooledEnd + H * C;
  let fc2End = fc1End + params.J * H;
  if (i < pooledEnd) {
    let n = i / C;
    let c = i % C;
    dpooled[n * params.pooledStrideN + c * params.pooledStrideC] = pooledGrad(n, c);
  } else if (i < fc1End) {
    let e = i - pooledEnd;
    let h = e / C;
    let c = e % C;
    var s = 0.0;
    for (var n = 0u; n < N; n++) { s += dpre[n * H + h] * pooled[n * params.pooledStrideN + c * params.pooledStrideC]; }
    dfc1[e] = params.poolScale * s;
  } else if (i < fc2End) {
    let e = i - fc1End;
    let j = e / H;
    let h = e % H;
    var s = 0.0;
    for (var n = 0u; n < N; n++) {
      let p = pre[n * H + h];
      s += dlogit[n * params.J + j] * select(p * params.slope, p, p > 0.0);
    }
    dfc2[e] = s;
  }
//#if BIAS
  else if (i < fc2End + C) {
    let c = i - fc2End;
    var s = 0.0;
    for (var n = 0u; n < N; n++) { s += pooledGrad(n, c); }
    dbias[c] = s;
  }
//#end
}
