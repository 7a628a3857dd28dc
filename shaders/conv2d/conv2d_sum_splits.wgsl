// Adds the split-K partial results of a convolution pass (shaders/conv2d/hardware/ and
// conv2d_backward_weight_subgroup.wgsl) into its output, in split order, so the result is
// deterministic, then applies the forward's activation, which must see the whole sum:
//   out[i] = act(sum over s of partials[s * count + i])
// The forward's bias is already in split 0's partial result.
// Buffers: partials [splits, count]; out [count] (overwritten).
// Dispatch: ceil(count / 64) workgroups of 64, spread over x and z (element index =
// global_id.x + global_id.z * 64 * num_workgroups.x); invocations past the end return.

struct SumSplitsParams {
  count: u32,
  splits: u32,
  activation: u32, // 0 none, 1 leaky ReLU
  slope: f32,
}

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: SumSplitsParams;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) globalId: vec3u, @builtin(num_workgroups) workgroupCount: vec3u) {
  let index = globalId.x + globalId.z * 64u * workgroupCount.x;
  if (index >= params.count) {
    return;
  }
  var sum = 0.0;
  for (var s = 0u; s < params.splits; s++) {
    sum += partials[s * params.count + index];
  }
  if (params.activation == 1u && sum < 0.0) {
    sum *= params.slope;
  }
  out[index] = sum;
}
