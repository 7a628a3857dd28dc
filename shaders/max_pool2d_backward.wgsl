// Max pooling backward by gather, one dx element per invocation, deterministic and atomic-free:
//   dx[plane, ih, iw] = sum of dy[plane, oh, ow] over the windows (oh, ow) that contain (ih, iw)
//                       and whose recorded argmax is ih * W + iw,
// summed in row-major window order. The windows containing row ih are those with
// oh * stride - pad <= ih < oh * stride - pad + kernelHeight, i.e.
//   oh in [ceil((ih + pad - kernelHeight + 1) / stride), floor((ih + pad) / stride)] within [0, Ho);
// likewise for columns. Overlapping windows (stride < kernel) simply add.
//
// Buffers: dy [N, C, Ho, Wo]; argmax [N, C, Ho, Wo] u32 from max_pool2d_forward.wgsl;
// dx [N, C, H, W] (overwritten).
// Dispatch: ceil(N*C*H*W / 64) workgroups of 64, spread over x and z as in the forward pass.

struct MaxPool2dParams {
  planes: u32, // N * C
  inHeight: u32,
  inWidth: u32,
  outHeight: u32,
  outWidth: u32,
  kernelHeight: u32,
  kernelWidth: u32,
  stride: u32,
  pad: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<u32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: MaxPool2dParams;

// The first window index whose extent (start = w * stride - pad, length kernel) reaches position p.
fn firstWindow(p: u32, kernel: u32) -> u32 {
  let reach = p + params.pad + 1u;
  if (reach <= kernel) {
    return 0u;
  }
  return (reach - kernel + params.stride - 1u) / params.stride;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) globalId: vec3u, @builtin(num_workgroups) workgroupCount: vec3u) {
  let index = globalId.x + globalId.z * 64u * workgroupCount.x;
  let inPlane = params.inHeight * params.inWidth;
  if (index >= params.planes * inPlane) {
    return;
  }
  let plane = index / inPlane;
  let flat = index % inPlane;
  let ih = flat / params.inWidth;
  let iw = flat % params.inWidth;
  let rowEnd = min((ih + params.pad) / params.stride + 1u, params.outHeight);
  let colEnd = min((iw + params.pad) / params.stride + 1u, params.outWidth);
  let outBase = plane * params.outHeight * params.outWidth;

  var sum = 0.0;
  for (var oh = firstWindow(ih, params.kernelHeight); oh < rowEnd; oh++) {
    for (var ow = firstWindow(iw, params.kernelWidth); ow < colEnd; ow++) {
      let window = outBase + oh * params.outWidth + ow;
      if (argmax[window] == flat) {
        sum += dy[window];
      }
    }
  }
  dx[index] = sum;
}
