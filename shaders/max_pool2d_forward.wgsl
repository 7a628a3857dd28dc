// Max pooling forward, one output element per invocation, with PyTorch's choice of argmax:
// the window is scanned in row-major order and an element replaces the running maximum when it
// is greater, or when it is NaN; so the FIRST of equal maxima wins and a NaN is taken as the max.
// Padding contributes no candidates (PyTorch pads max pooling with -inf); every window holds at
// least one input element because pad <= kernel / 2.
// NaN is tested on the bits, since WGSL lets a compiler assume floats are never NaN.
//
// Buffers: x [N, C, H, W]; y [N, C, Ho, Wo]; argmax [N, C, Ho, Wo] u32, the flat index
// ih * W + iw of the chosen element within its input plane (what the backward pass gathers by).
// Dispatch: ceil(N*C*Ho*Wo / 64) workgroups of 64, spread over x and z (element index =
// global_id.x + global_id.z * 64 * num_workgroups.x); invocations past the end return.

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

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(3) var<uniform> params: MaxPool2dParams;

fn isNan(value: f32) -> bool {
  return (bitcast<u32>(value) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) globalId: vec3u, @builtin(num_workgroups) workgroupCount: vec3u) {
  let index = globalId.x + globalId.z * 64u * workgroupCount.x;
  let outPlane = params.outHeight * params.outWidth;
  if (index >= params.planes * outPlane) {
    return;
  }
  let plane = index / outPlane;
  let oh = (index % outPlane) / params.outWidth;
  let ow = index % params.outWidth;
  let rowStart = i32(oh * params.stride) - i32(params.pad);
  let colStart = i32(ow * params.stride) - i32(params.pad);
  let rowBegin = u32(max(rowStart, 0));
  let colBegin = u32(max(colStart, 0));
  let rowEnd = u32(min(rowStart + i32(params.kernelHeight), i32(params.inHeight)));
  let colEnd = u32(min(colStart + i32(params.kernelWidth), i32(params.inWidth)));
  let planeBase = plane * params.inHeight * params.inWidth;

  // Starting from the window's first element is the same as PyTorch's start from -inf with
  // that element's index (WGSL has no -inf literal).
  var bestIndex = rowBegin * params.inWidth + colBegin;
  var best = x[planeBase + bestIndex];
  for (var ih = rowBegin; ih < rowEnd; ih++) {
    for (var iw = colBegin; iw < colEnd; iw++) {
      let flat = ih * params.inWidth + iw;
      let value = x[planeBase + flat];
      if (value > best || isNan(value)) {
        best = value;
        bestIndex = flat;
      }
    }
  }
  y[index] = best;
  argmax[index] = bestIndex;
}
