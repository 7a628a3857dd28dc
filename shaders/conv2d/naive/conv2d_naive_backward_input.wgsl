// Conv2d input gradient by direct summation, one dx element per invocation: the baseline for
// conv2d_backward_input.wgsl. With y[b, co, oh, ow] = sum x[b, ci, oh*stride - pad + kh,
// ow*stride - pad + kw] * weight[co, ci, kh, kw], the gradient is
//   dx[b, ci, ih, iw] = sum over co, kh, kw of weight[co, ci, kh, kw] * dy[b, co, oh, ow]
// for the (oh, ow) with oh*stride = ih + pad - kh inside [0, Ho) (likewise ow); taps that miss the
// stride grid contribute nothing.
//
// Buffers: dy [N, Co, Ho, Wo]; weight [Co, Ci, KH, KW]; dx [N, Ci, H, W] (overwritten).
// Dispatch: ceil(N*Ci*H*W / 64) workgroups of 64, spread over x and z as in the naive forward.

struct Conv2dNaiveParams {
  batch: u32,
  inChannels: u32,
  inHeight: u32,
  inWidth: u32,
  outChannels: u32,
  outHeight: u32,
  outWidth: u32,
  kernelHeight: u32,
  kernelWidth: u32,
  stride: u32,
  pad: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Conv2dNaiveParams;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) globalId: vec3u, @builtin(num_workgroups) workgroupCount: vec3u) {
  let index = globalId.x + globalId.z * 64u * workgroupCount.x;
  let inPlane = params.inHeight * params.inWidth;
  if (index >= params.batch * params.inChannels * inPlane) {
    return;
  }
  let iw = index % params.inWidth;
  let ih = (index / params.inWidth) % params.inHeight;
  let ci = (index / inPlane) % params.inChannels;
  let b = index / (inPlane * params.inChannels);

  var sum = 0.0;
  for (var co = 0u; co < params.outChannels; co++) {
    for (var kh = 0u; kh < params.kernelHeight; kh++) {
      let rowOnGrid = i32(ih + params.pad) - i32(kh);
      if (rowOnGrid < 0 || rowOnGrid % i32(params.stride) != 0) {
        continue;
      }
      let oh = u32(rowOnGrid) / params.stride;
      if (oh >= params.outHeight) {
        continue;
      }
      for (var kw = 0u; kw < params.kernelWidth; kw++) {
        let colOnGrid = i32(iw + params.pad) - i32(kw);
        if (colOnGrid < 0 || colOnGrid % i32(params.stride) != 0) {
          continue;
        }
        let ow = u32(colOnGrid) / params.stride;
        if (ow >= params.outWidth) {
          continue;
        }
        let dyValue = dy[((b * params.outChannels + co) * params.outHeight + oh) * params.outWidth + ow];
        let wValue = weight[((co * params.inChannels + ci) * params.kernelHeight + kh) * params.kernelWidth + kw];
        sum += dyValue * wValue;
      }
    }
  }
  dx[index] = sum;
}
