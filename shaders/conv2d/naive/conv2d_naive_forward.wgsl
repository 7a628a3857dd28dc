// Conv2d forward by direct summation, one output element per invocation: the baseline the tiled
// implicit GEMM (conv2d_forward.wgsl) is benchmarked against, and the switch to fall back to when
// debugging it. Same semantics: y = activation(conv(x, weight) + bias), zero padding.
//
// Buffers: x [N, Ci, H, W]; weight [Co, Ci, KH, KW]; bias [Co] (read only when hasBias; bind any
// buffer otherwise); y [N, Co, Ho, Wo].
// Dispatch: ceil(N*Co*Ho*Wo / 64) workgroups of 64, spread over x and z (element index =
// global_id.x + global_id.z * 64 * num_workgroups.x); invocations past the end return.

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
  hasBias: u32,
  activation: u32, // 0 none, 1 leaky ReLU
  slope: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Conv2dNaiveParams;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) globalId: vec3u, @builtin(num_workgroups) workgroupCount: vec3u) {
  let index = globalId.x + globalId.z * 64u * workgroupCount.x;
  let outPlane = params.outHeight * params.outWidth;
  if (index >= params.batch * params.outChannels * outPlane) {
    return;
  }
  let ow = index % params.outWidth;
  let oh = (index / params.outWidth) % params.outHeight;
  let co = (index / outPlane) % params.outChannels;
  let b = index / (outPlane * params.outChannels);

  var sum = 0.0;
  for (var ci = 0u; ci < params.inChannels; ci++) {
    for (var kh = 0u; kh < params.kernelHeight; kh++) {
      let inRow = i32(oh * params.stride + kh) - i32(params.pad);
      if (inRow < 0 || inRow >= i32(params.inHeight)) {
        continue;
      }
      for (var kw = 0u; kw < params.kernelWidth; kw++) {
        let inCol = i32(ow * params.stride + kw) - i32(params.pad);
        if (inCol < 0 || inCol >= i32(params.inWidth)) {
          continue;
        }
        let xValue = x[((b * params.inChannels + ci) * params.inHeight + u32(inRow)) * params.inWidth + u32(inCol)];
        let wValue = weight[((co * params.inChannels + ci) * params.kernelHeight + kh) * params.kernelWidth + kw];
        sum += xValue * wValue;
      }
    }
  }
  if (params.hasBias != 0u) {
    sum += bias[co];
  }
  if (params.activation == 1u && sum < 0.0) {
    sum *= params.slope;
  }
  y[index] = sum;
}
