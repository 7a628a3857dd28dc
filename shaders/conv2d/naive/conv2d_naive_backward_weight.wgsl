// Conv2d weight gradient by direct summation, one dw element per invocation: the baseline for
// conv2d_backward_weight.wgsl.
//   dw[co, ci, kh, kw] = sum over b, oh, ow of dy[b, co, oh, ow] * x[b, ci, oh*stride - pad + kh,
//                                                                  ow*stride - pad + kw]
// with x zero outside the image.
//
// Buffers: x [N, Ci, H, W]; dy [N, Co, Ho, Wo]; dw [Co, Ci, KH, KW] (overwritten).
// Dispatch: ceil(Co*Ci*KH*KW / 64) workgroups of 64, spread over x and z as in the naive forward.

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

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;
@group(0) @binding(3) var<uniform> params: Conv2dNaiveParams;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) globalId: vec3u, @builtin(num_workgroups) workgroupCount: vec3u) {
  let index = globalId.x + globalId.z * 64u * workgroupCount.x;
  let taps = params.kernelHeight * params.kernelWidth;
  if (index >= params.outChannels * params.inChannels * taps) {
    return;
  }
  let kw = index % params.kernelWidth;
  let kh = (index / params.kernelWidth) % params.kernelHeight;
  let ci = (index / taps) % params.inChannels;
  let co = index / (taps * params.inChannels);

  var sum = 0.0;
  for (var b = 0u; b < params.batch; b++) {
    for (var oh = 0u; oh < params.outHeight; oh++) {
      let inRow = i32(oh * params.stride + kh) - i32(params.pad);
      if (inRow < 0 || inRow >= i32(params.inHeight)) {
        continue;
      }
      for (var ow = 0u; ow < params.outWidth; ow++) {
        let inCol = i32(ow * params.stride + kw) - i32(params.pad);
        if (inCol < 0 || inCol >= i32(params.inWidth)) {
          continue;
        }
        let xValue = x[((b * params.inChannels + ci) * params.inHeight + u32(inRow)) * params.inWidth + u32(inCol)];
        let dyValue = dy[((b * params.outChannels + co) * params.outHeight + oh) * params.outWidth + ow];
        sum += dyValue * xValue;
      }
    }
  }
  dw[index] = sum;
}
