// One SGD step for one parameter tensor, in place, as torch.optim.SGD with foreach=False,
// dampening 0 and no Nesterov:
//   g               = grad + weight_decay * param       (skipped when weightDecay is 0)
//   momentum_buffer = g                                  at the parameter's first step
//                   = momentum * momentum_buffer + g     afterwards
//   param           = param - lr * momentum_buffer       (param - lr * g without momentum)
// Buffers (f32, `total` elements each, the same flat order): param (read_write), grad (read),
// momentum_buffer (read_write; a placeholder, never touched, when MOMENTUM is false).
// Dispatch: ceil(total / WORKGROUP_SIZE) workgroups folded into x and y (elementwiseGrid);
// element i = gid.y * rowStride + gid.x.

override WORKGROUP_SIZE: u32 = 256u;
override MOMENTUM: bool = true;

struct SgdStepParams {
  total: u32,
  rowStride: u32,
  /** 1 at the parameter's first step, when the buffer starts as a copy of g. */
  firstStep: u32,
  lr: f32,
  momentum: f32,
  weightDecay: f32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> momentumBuffer: array<f32>;
@group(0) @binding(3) var<uniform> params: SgdStepParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.rowStride + gid.x;
  if (i >= params.total) { return; }
  let p = param[i];
  var direction = grad[i];
  if (params.weightDecay != 0.0) {
    direction = direction + params.weightDecay * p;
  }
  if (MOMENTUM) {
    if (params.firstStep == 0u) {
      direction = params.momentum * momentumBuffer[i] + direction;
    }
    momentumBuffer[i] = direction;
  }
  param[i] = p - params.lr * direction;
}
