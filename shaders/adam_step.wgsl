// One Adam or AdamW step for up to CHUNKS parameter tensors at once, in place, as torch.optim.Adam
// / AdamW with foreach=False (t is the parameters' step count, already incremented for this step;
// the host groups tensors by t, so all chunks of a dispatch share it):
//   g          = grad + weight_decay * param         Adam's L2 term (skipped when l2Decay is 0)
//   param      = param * (1 - lr * weight_decay)     AdamW's decoupled decay (factor 1 for Adam)
//   exp_avg    = exp_avg.lerp(g, 1 - beta1)          = beta1 * exp_avg + (1 - beta1) * g
//   exp_avg_sq = exp_avg_sq * beta2 + (1 - beta2) * g * g
//   denom      = sqrt(exp_avg_sq) / sqrt(1 - beta2^t) + eps
//   param      = param - (lr / (1 - beta1^t)) * exp_avg / denom
// The host computes every per-step scalar in f64 and passes it rounded to f32, as PyTorch passes
// its Python floats to the f32 kernels, so each rounding here happens where PyTorch's does.
// CHUNKS is an unroll parameter (engine/webgpu/unroll.ts): chunk s (a parameter, or a piece of one
// too large for one binding) has its own two bindings, as many chunks as the adapter can bind.
// Buffers (f32): exp_avg and exp_avg_sq (read_write), the optimizer's state arenas
// (nn/optim/state-arena.ts), chunk s's state at stateOffsets[s] onwards; then per chunk s
// (elements[s] each, the same flat order as its state): param (read_write), grad (read).
// Dispatch: chunk s owns the workgroups from the previous chunk's end to workgroupEnds[s], one
// element per invocation; the sum of all is folded into x and y; workgroup w = id.y * count.x + id.x.

override WORKGROUP_SIZE: u32 = 256u;

struct AdamStepParams {
  l2Decay: f32,
  decoupledDecayFactor: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  eps: f32,
  stepSize: f32,
  biasCorrection2Sqrt: f32,
  /** Per chunk (4 a vec4): the end of its workgroup range, its element count, its first element in the state arenas. */
  workgroupEnds: array<vec4<u32>, 4>,
  elements: array<vec4<u32>, 4>,
  stateOffsets: array<vec4<u32>, 4>,
}

@group(0) @binding(0) var<storage, read_write> expAvg: array<f32>;
@group(0) @binding(1) var<storage, read_write> expAvgSq: array<f32>;
//#for s in 0..CHUNKS
@group(0) @binding(${2 + 2 * s}) var<storage, read_write> param${s}: array<f32>;
@group(0) @binding(${3 + 2 * s}) var<storage, read> grad${s}: array<f32>;
//#end
@group(0) @binding(${2 + 2 * CHUNKS}) var<uniform> params: AdamStepParams;

// torch.lerp's two forms: each keeps the result exact at its own end of the weight range.
fn lerp(start: f32, end: f32, weight: f32) -> f32 {
  if (abs(weight) < 0.5) {
    return start + weight * (end - start);
  }
  return end - (end - start) * (1.0 - weight);
}

struct AdamUpdate {
  param: f32,
  expAvg: f32,
  expAvgSq: f32,
}

fn adamUpdate(param: f32, grad: f32, expAvg: f32, expAvgSq: f32) -> AdamUpdate {
  var p = param;
  var g = grad;
  if (params.l2Decay != 0.0) {
    g = g + params.l2Decay * p;
  }
  p = p * params.decoupledDecayFactor;
  let m = lerp(expAvg, g, params.oneMinusBeta1);
  let v = expAvgSq * params.beta2 + params.oneMinusBeta2 * g * g;
  let denom = sqrt(v) / params.biasCorrection2Sqrt + params.eps;
  return AdamUpdate(p - params.stepSize * (m / denom), m, v);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) id: vec3<u32>, @builtin(num_workgroups) count: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = id.y * count.x + id.x;
  var first = 0u;
//#for s in 0..CHUNKS
  if (w < params.workgroupEnds[${s / 4}][${s % 4}]) {
    let i = (w - first) * WORKGROUP_SIZE + lid;
    if (i < params.elements[${s / 4}][${s % 4}]) {
      let k = params.stateOffsets[${s / 4}][${s % 4}] + i;
      let r = adamUpdate(param${s}[i], grad${s}[i], expAvg[k], expAvgSq[k]);
      expAvg[k] = r.expAvg;
      expAvgSq[k] = r.expAvgSq;
      param${s}[i] = r.param;
    }
    return;
  }
  first = params.workgroupEnds[${s / 4}][${s % 4}];
//#end
}
