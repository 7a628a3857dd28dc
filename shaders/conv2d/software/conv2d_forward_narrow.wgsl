// Forward 3x3, stride 1, pad 1 convolution with few input channels (the first layer's 3) for CPU
// rasterisers (lavapipe): y = activation(conv(x, weight) + bias).
//
// Why not conv2d_subgroup.wgsl: with a reduction of 3 channels, there each lane's weight
// loads and each lane's own input rows are spent on only 27 multiply-adds per output, about as
// much as the output's store. Here the roles are swapped: each lane owns CO_PER_LANE output
// channels, whose 9 * IN_CHANNELS weights it loads once; the subgroup shares one block of pixels
// at a time, whose input rows the lanes load between them (a vec4 each) and broadcast; and the
// subgroup walks BLOCKS blocks, so the weights serve them all. (On lavapipe every load is a
// per-lane loop and a broadcast is a register shuffle: see shaders/matmul_subgroup.wgsl.)
//
// A pixel block is 2 image rows x 8 pixels: it reads IN_CHANNELS x 4 input rows of 4 vec4s (the
// block's own 2, and one either side for the kx = 0 and kx = 2 taps), zero outside the image.
// Item i of those (channel, row, vec4) triples is loaded by lane i % LANES.
//
// Unroll parameters (engine/webgpu/unroll.ts): LANES (the adapter's fixed subgroup size, also the
// workgroup size), IN_CHANNELS, CO_PER_LANE, BLOCKS. Requires (engine/ops/conv2d/software-launch.ts checks) W a multiple
// of 8 and H of 2. Output channels past the end are clamped for loading and never stored, so that
// every lane takes part in every broadcast.
//
// Dispatch: (groups of BLOCKS blocks over x and z, ceil(Co / (LANES * CO_PER_LANE)), 1); group g
// = workgroup_id.x + workgroup_id.z * num_workgroups.x takes blocks g * BLOCKS .. + BLOCKS - 1 of
// batch * (H / 2) * (W / 8), in (image, block row, block column) order.
// Buffers: x [N, IN_CHANNELS, H, W]; weight [Co, IN_CHANNELS, 3, 3]; bias [Co] (read only when
// hasBias); y [N, Co, H, W].

enable subgroups;

struct Conv2dParams {
  batch: u32,
  inChannels: u32,
  inHeight: u32,
  inWidth: u32,
  outChannels: u32,
  outHeight: u32,
  outWidth: u32,
  pad: u32,
  hasBias: u32,
  activation: u32, // 0 none, 1 leaky ReLU
  slope: f32,
  splitLength: u32, // unused here; the conv kernels share one uniform layout
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> params: Conv2dParams;

// Input items per block: (channel, row 0..3, vec4 0..3), dealt out over the lanes.
const ITEMS = ${IN_CHANNELS * 16}u;

@compute @workgroup_size(${LANES})
fn main(
  @builtin(workgroup_id) workgroup: vec3<u32>,
  @builtin(num_workgroups) workgroups: vec3<u32>,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let H = params.inHeight;
  let W4 = params.inWidth / 4u;
  let Co = params.outChannels;
  let blocksPerRow = W4 / 2u;
  let blockRows = H / 2u;
  let blocks = params.batch * blockRows * blocksPerRow;
  let firstBlock = (workgroup.x + workgroup.z * workgroups.x) * ${BLOCKS}u;

  // This lane's output channels, their weights (w_R_C_T: channel R, input channel C, tap T) and biases.
  let band = workgroup.y * ${LANES * CO_PER_LANE}u;
//#for r in 0..CO_PER_LANE
  let co${r} = min(band + ${CO_PER_LANE}u * lane + ${r}u, Co - 1u);
  let bias${r} = select(0.0, bias[co${r}], params.hasBias == 1u);
//#for c in 0..IN_CHANNELS
//#for t in 0..9
  let w_${r}_${c}_${t} = vec4(weight[(co${r} * ${IN_CHANNELS}u + ${c}u) * 9u + ${t}u]);
//#end
//#end
//#end

  for (var b = firstBlock; b < min(firstBlock + ${BLOCKS}u, blocks); b++) {
    let firstVec4 = b % blocksPerRow * 2u;
    let oy0 = b / blocksPerRow % blockRows * 2u;
    let n = b / blocksPerRow / blockRows;

    // Load: this lane's items k * LANES + lane.
//#for k in 0..(IN_CHANNELS * 16 + LANES - 1) / LANES
    var item${k} = vec4<f32>();
    {
      let i = min(${k * LANES}u + lane, ITEMS - 1u);
      let row = i / 4u;
      let column = i32(firstVec4) + i32(i % 4u) - 1;
      let iy = i32(oy0) + i32(row % 4u) - 1;
      if (iy >= 0 && iy < i32(H) && column >= 0 && column < i32(W4)) {
        item${k} = x[((n * ${IN_CHANNELS}u + row / 4u) * H + u32(iy)) * W4 + u32(column)];
      }
    }
//#end
    // Share: in_C_J_S is vec4 S (0 left, 1 and 2 the block's, 3 right) of input row J of channel C.
//#for c in 0..IN_CHANNELS
//#for j in 0..4
//#for s in 0..4
    let in_${c}_${j}_${s} = subgroupBroadcast(item${(16 * c + 4 * j + s) / LANES}, ${(16 * c + 4 * j + s) % LANES}u);
//#end
    // win_C_J_KX_V: row J under tap column kx, for pixels 4 V .. 4 V + 3 of the block.
    let win_${c}_${j}_0_0 = vec4(in_${c}_${j}_0.w, in_${c}_${j}_1.x, in_${c}_${j}_1.y, in_${c}_${j}_1.z);
    let win_${c}_${j}_0_1 = vec4(in_${c}_${j}_1.w, in_${c}_${j}_2.x, in_${c}_${j}_2.y, in_${c}_${j}_2.z);
    let win_${c}_${j}_1_0 = in_${c}_${j}_1;
    let win_${c}_${j}_1_1 = in_${c}_${j}_2;
    let win_${c}_${j}_2_0 = vec4(in_${c}_${j}_1.y, in_${c}_${j}_1.z, in_${c}_${j}_1.w, in_${c}_${j}_2.x);
    let win_${c}_${j}_2_1 = vec4(in_${c}_${j}_2.y, in_${c}_${j}_2.z, in_${c}_${j}_2.w, in_${c}_${j}_3.x);
//#end
//#end

    // Compute and store: output row oy0 + Y under kernel row ky reads input row Y + ky.
    let outBase = (n * Co * H + oy0) * W4 + firstVec4;
//#for r in 0..CO_PER_LANE
    if (band + ${CO_PER_LANE}u * lane + ${r}u < Co) {
//#for oy in 0..2
//#for v in 0..2
      {
        var acc = vec4(bias${r});
//#for c in 0..IN_CHANNELS
//#for ky in 0..3
//#for kx in 0..3
        acc = fma(w_${r}_${c}_${3 * ky + kx}, win_${c}_${oy + ky}_${kx}_${v}, acc);
//#end
//#end
//#end
        y[outBase + co${r} * H * W4 + ${oy}u * W4 + ${v}u] = select(acc, acc * params.slope, (acc < vec4(0.0)) & vec4(params.activation == 1u));
      }
//#end
//#end
    }
//#end
  }
}
