// One SGD step for up to CHUNKS parameter tensors at once, in place, as torch.optim.SGD with
// foreach=False, dampening 0 and no Nesterov (the host groups tensors by their step count, so all
// chunks of a dispatch share firstStep):
//   g               = grad + weight_decay * param       (skipped when weightDecay is 0)
//   momentum_buffer = g                                  at the parameter's first step
//                   = momentum * momentum_buffer + g     afterwards
//   param           = param - lr * momentum_buffer       (param - lr * g without momentum)
// CHUNKS and MOMENTUM (1 with a momentum buffer, 0 without) are unroll parameters
// (engine/webgpu/unroll.ts): chunk s (a parameter, or a piece of one too large for one binding)
// has its own bindings, as many chunks as the adapter can bind.
// Buffers, per chunk s (f32, elements[s] each, the same flat order): param (read_write), grad
// (read), and with MOMENTUM momentum_buffer (read_write).
// Dispatch: chunk s owns the workgroups from the previous chunk's end to workgroupEnds[s], one
// element per invocation; the sum of all is folded into x and y; workgroup w = id.y * count.x + id.x.

override WORKGROUP_SIZE: u32 = 256u;

struct SgdStepParams {
  /** 1 at the parameters' first step, when the buffer starts as a copy of g. */
  firstStep: u32,
  lr: f32,
  momentum: f32,
  weightDecay: f32,
  /** Per chunk (4 a vec4): the end of its workgroup range, and its element count. */
  workgroupEnds: array<vec4<u32>, 6>,
  elements: array<vec4<u32>, 6>,
}

//#for s in 0..CHUNKS
@group(0) @binding(${(2 + MOMENTUM) * s}) var<storage, read_write> param${s}: array<f32>;
@group(0) @binding(${(2 + MOMENTUM) * s + 1}) var<storage, read> grad${s}: array<f32>;
//#if MOMENTUM
@group(0) @binding(${3 * s + 2}) var<storage, read_write> momentumBuffer${s}: array<f32>;
//#end
//#end
@group(0) @binding(${(2 + MOMENTUM) * CHUNKS}) var<uniform> params: SgdStepParams;

fn direction(param: f32, grad: f32) -> f32 {
  if (params.weightDecay != 0.0) {
    return grad + params.weightDecay * param;
  }
  return grad;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) id: vec3<u32>, @builtin(num_workgroups) count: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = id.y * count.x + id.x;
  var first = 0u;
//#for s in 0..CHUNKS
  if (w < params.workgroupEnds[${s / 4}][${s % 4}]) {
    let i = (w - first) * WORKGROUP_SIZE + lid;
    if (i < params.elements[${s / 4}][${s % 4}]) {
      let p = param${s}[i];
      var d = direction(p, grad${s}[i]);
//#if MOMENTUM
      if (params.firstStep == 0u) {
        d = params.momentum * momentumBuffer${s}[i] + d;
      }
      momentumBuffer${s}[i] = d;
//#end
      param${s}[i] = p - params.lr * d;
    }
    return;
  }
  first = params.workgroupEnds[${s / 4}][${s % 4}];
//#end
}
