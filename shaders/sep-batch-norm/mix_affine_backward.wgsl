// The gradients of SepBN's mix (mix_affine.wgsl), g = dL/dout [N, C]:
//   dp_k[c]      = sum_n g[n, c] * a[n, g(c), k]                 n ascending, one invocation per channel
//   da[n, gr, k] = sum_{c in group gr} g[n, c] * p_k[c]          one workgroup per (n, gr): the
//                  invocations stride over the group's channels, then a tree reduction per k
// One dispatch for both: workgroups [0, channelWorkgroups) own channels, the next N * groups own
// the (sample, group) pairs. K is an unroll parameter (engine/webgpu/unroll.ts).
// Buffers: grad (f32, [N, C]), a (f32, [N, groups, K]), p0 .. p{K-1} (f32, [C] each),
// da (f32, [N, groups, K]), dp0 .. dp{K-1} (f32, [C] each).
// Dispatch: channelWorkgroups + N * groups workgroups in x.

override WORKGROUP_SIZE: u32 = 64u;

struct MixAffineBackwardParams {
  N: u32,
  C: u32,
  groups: u32,
  channelsPerGroup: u32,
  channelWorkgroups: u32,
}

@group(0) @binding(0) var<storage, read> grad: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
//#for k in 0..K
@group(0) @binding(${k + 2}) var<storage, read> p${k}: array<f32>;
//#end
@group(0) @binding(${K + 2}) var<storage, read_write> da: array<f32>;
//#for k in 0..K
@group(0) @binding(${K + 3 + k}) var<storage, read_write> dp${k}: array<f32>;
//#end
@group(0) @binding(${2 * K + 3}) var<uniform> params: MixAffineBackwardParams;

//#for k in 0..K
var<workgroup> partial${k}: array<f32, WORKGROUP_SIZE>;
//#end

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // Uniform control flow: every invocation of a workgroup takes the same branch.
  if (wg.x < params.channelWorkgroups) {
    let c = wg.x * WORKGROUP_SIZE + lid;
    if (c < params.C) {
      let group = c / params.channelsPerGroup;
//#for k in 0..K
      var sum${k} = 0.0;
//#end
      for (var n = 0u; n < params.N; n++) {
        let g = grad[n * params.C + c];
        let weights = (n * params.groups + group) * ${K}u;
//#for k in 0..K
        sum${k} += g * a[weights + ${k}u];
//#end
      }
//#for k in 0..K
      dp${k}[c] = sum${k};
//#end
    }
    return;
  }
  let pair = wg.x - params.channelWorkgroups;
  let n = pair / params.groups;
  let first = (pair % params.groups) * params.channelsPerGroup;
//#for k in 0..K
  var sum${k} = 0.0;
//#end
  for (var c = first + lid; c < first + params.channelsPerGroup; c += WORKGROUP_SIZE) {
    let g = grad[n * params.C + c];
//#for k in 0..K
    sum${k} += g * p${k}[c];
//#end
  }
//#for k in 0..K
  partial${k}[lid] = sum${k};
//#end
  workgroupBarrier();
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width = width / 2u) {
    if (lid < width) {
//#for k in 0..K
      partial${k}[lid] += partial${k}[lid + width];
//#end
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
//#for k in 0..K
    da[pair * ${K}u + ${k}u] = partial${k}[0];
//#end
  }
}
