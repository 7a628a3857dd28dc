// One SGD step for up to CHUNKS parameter tensors at once, in place, as torch.optim.SGD with
// foreach=False, dampening 0 and no Nesterov (the host groups tensors by their step count, so all
// chunks of a dispatch share firstStep):
//   g               = grad + weight_decay * param       (skipped when weightDecay is 0)
//   momentum_buffer = g                                  at the parameter's first step
//                   = momentum * momentum_buffer + g     afterwards
//   param           = param - lr * momentum_buffer       (param - lr * g without momentum)
// CHUNKS and MOMENTUM (1 with a momentum buffer, 0 without) are unroll parameters
// (engine/webgpu/unroll.ts): chunk s (a parameter, or a piece of one too large for one binding)
// has its own two bindings, as many chunks as the adapter can bind.
// Buffers (f32): with MOMENTUM first momentum_buffer (read_write), the optimizer's state arena
// (nn/optim/state-arena.ts), chunk s's buffer at stateOffsets[s] onwards; then per chunk s
// (elements[s] each, the same flat order as its buffer): param (read_write), grad (read).
// Dispatch: chunk s owns the workgroups from the previous chunk's end to workgroupEnds[s], one
// element per invocation; the sum of all is folded into x and y; workgroup w = id.y * count.x + id.x.

override WORKGROUP_SIZE: u32 = 256u;

struct SgdStepParams {
  /** 1 at the parameters' first step, when the buffer starts as a copy of g. */
  firstStep: u32,
  lr: f32,
  momentum: f32,
  weightDecay: f32,
  /** Per chunk (4 a vec4): the end of its workgroup range, its element count, its first element in the momentum arena. */
  workgroupEnds: array<vec4<u32>, 4>,
  elements: array<vec4<u32>, 4>,
  stateOffsets: array<vec4<u32>, 4>,
}

//#if MOMENTUM
@group(0) @binding(0) var<storage, read_write> momentumBuffer: array<f32>;
//#end
//#for s in 0..CHUNKS
@group(0) @binding(${MOMENTUM + 2 * s}) var<storage, read_write> param${s}: array<f32>;
@group(0) @binding(${MOMENTUM + 2 * s + 1}) var<storage, read> grad${s}: array<f32>;
//#end
@group(0) @binding(${MOMENTUM + 2 * CHUNKS}) var<uniform> params: SgdStepParams;

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
      let k = params.stateOffsets[${s / 4}][${s % 4}] + i;
      if (params.firstStep == 0u) {
        d = params.momentum * momentumBuffer[k] + d;
      }
      momentumBuffer[k] = d;
//#end
      param${s}[i] = p - params.lr * d;
    }
    return;
  }
  first = params.workgroupEnds[${s / 4}][${s % 4}];
//#end
}
