// One Adam or AdamW step for one parameter tensor, in place, as torch.optim.Adam / AdamW with
// foreach=False (t is the parameter's step count, already incremented for this step):
//   g          = grad + weight_decay * param         Adam's L2 term (skipped when l2Decay is 0)
//   param      = param * (1 - lr * weight_decay)     AdamW's decoupled decay (factor 1 for Adam)
//   exp_avg    = exp_avg.lerp(g, 1 - beta1)          = beta1 * exp_avg + (1 - beta1) * g
//   exp_avg_sq = exp_avg_sq * beta2 + (1 - beta2) * g * g
//   denom      = sqrt(exp_avg_sq) / sqrt(1 - beta2^t) + eps
//   param      = param - (lr / (1 - beta1^t)) * exp_avg / denom
// The host computes every per-step scalar in f64 and passes it rounded to f32, as PyTorch passes
// its Python floats to the f32 kernels, so each rounding here happens where PyTorch's does.
// Buffers (f32, `total` elements each, the same flat order): param (read_write), grad (read),
// exp_avg (read_write), exp_avg_sq (read_write).
// Dispatch: ceil(total / WORKGROUP_SIZE) workgroups folded into x and y (elementwiseGrid);
// element i = gid.y * rowStride + gid.x.

override WORKGROUP_SIZE: u32 = 256u;

struct AdamStepParams {
  total: u32,
  rowStride: u32,
  l2Decay: f32,
  decoupledDecayFactor: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  eps: f32,
  stepSize: f32,
  biasCorrection2Sqrt: f32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> expAvg: array<f32>;
@group(0) @binding(3) var<storage, read_write> expAvgSq: array<f32>;
@group(0) @binding(4) var<uniform> params: AdamStepParams;

// torch.lerp's two forms: each keeps the result exact at its own end of the weight range.
fn lerp(start: f32, end: f32, weight: f32) -> f32 {
  if (abs(weight) < 0.5) {
    return start + weight * (end - start);
  }
  return end - (end - start) * (1.0 - weight);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.rowStride + gid.x;
  if (i >= params.total) { return; }
  var p = param[i];
  var g = grad[i];
  if (params.l2Decay != 0.0) {
    g = g + params.l2Decay * p;
  }
  p = p * params.decoupledDecayFactor;
  let m = lerp(expAvg[i], g, params.oneMinusBeta1);
  let v = expAvgSq[i] * params.beta2 + params.oneMinusBeta2 * g * g;
  let denom = sqrt(v) / params.biasCorrection2Sqrt + params.eps;
  expAvg[i] = m;
  expAvgSq[i] = v;
  param[i] = p - params.stepSize * (m / denom);
}
