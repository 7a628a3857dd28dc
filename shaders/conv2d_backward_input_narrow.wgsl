// Input gradient of a 3x3, stride 1, pad 1 convolution with few input channels (the first
// layer's 3) for CPU rasterisers (lavapipe): dx[n, c, iy, ix] = sum over co, ky, kx of
// dy[n, co, iy + 1 - ky, ix + 1 - kx] * weight[co, c, ky, kx].
//
// Why not shaders/conv2d_subgroup.wgsl: there a subgroup shares bands of 32 result rows, and
// here there are only OUT_CHANNELS (3) of them, so most of its work would be padding. Here each
// lane owns one pixel block of every result channel: PIX_ROWS image rows x 8 pixels, as
// 2 * PIX_ROWS vec4 accumulators per channel, and walks the Co channels of dy one at a time:
//   - the 9 * OUT_CHANNELS weights of a channel are the same for every lane, so the lanes load
//     them between them and broadcast each one;
//   - the lane loads the PIX_ROWS + 2 dy rows its block meets, each as its own 2 vec4s. The
//     pixel either side (for the kx = 0 and kx = 2 taps) belongs to the neighbouring lane, since
//     consecutive lanes take consecutive blocks of a row, and comes by a shuffle; only the
//     subgroup's end lanes load theirs;
//   - each dy row is spent on the (up to 3) result rows it meets before the next is loaded.
// So each loaded dy value serves up to 9 * OUT_CHANNELS multiply-adds, less the vertical halo.
// (On lavapipe every load is a per-lane loop and a broadcast or shuffle is a register
// permutation: see shaders/matmul_subgroup.wgsl.) Measured on lavapipe at the first layer's
// shape: 4-row blocks beat 2 and 8, and one dy channel per loop turn beat four: the larger
// bodies run slower, though they load less per multiply-add.
//
// Unroll parameters (engine/webgpu/unroll.ts): LANES (the adapter's fixed subgroup size),
// OUT_CHANNELS (the convolution's input channels, at most 4), PIX_ROWS, WORKGROUP_SIZE (a multiple
// of LANES). Requires (conv2d-launch.ts checks) W a multiple of 8 and H of PIX_ROWS. Lanes past
// the last block compute the last block again, so that every lane takes part in every
// broadcast and shuffle, and store nothing.
//
// Dispatch: (workgroups over x and z, 1, 1); lane index g = (workgroup_id.x + workgroup_id.z *
// num_workgroups.x) * WORKGROUP_SIZE + local_invocation_index takes block g of
// batch * (H / PIX_ROWS) * (W / 8), in (image, block row, block column) order.
// Buffers: dy [N, Co, H, W]; weight [Co, OUT_CHANNELS, 3, 3]; dx [N, OUT_CHANNELS, H, W].

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
  activation: u32,
  slope: f32,
  splitLength: u32, // unused here; the conv kernels share one uniform layout
}

@group(0) @binding(0) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Conv2dParams;

// The weights of one dy channel: item i is loaded by lane i % LANES.
const WEIGHT_ITEMS = ${9 * OUT_CHANNELS}u;

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(
  @builtin(workgroup_id) workgroup: vec3<u32>,
  @builtin(num_workgroups) workgroups: vec3<u32>,
  @builtin(local_invocation_index) local: u32,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let H = params.inHeight;
  let W4 = params.inWidth / 4u;
  let Co = params.outChannels;
  let blocksPerRow = W4 / 2u;
  let blockRows = H / ${PIX_ROWS}u;
  let blocks = params.batch * blockRows * blocksPerRow;
  let g = (workgroup.x + workgroup.z * workgroups.x) * ${WORKGROUP_SIZE}u + local;
  let b = min(g, blocks - 1u);
  let firstVec4 = b % blocksPerRow * 2u;
  let iy0 = b / blocksPerRow % blockRows * ${PIX_ROWS}u;
  let n = b / blocksPerRow / blockRows;
  // Whether the block has pixels to its left and right in the image. Where it has, the lane either
  // side owns them (a subgroup that wraps onto the next block row does so where these are false).
  let hasLeft = firstVec4 > 0u;
  let hasRight = firstVec4 + 2u < W4;

  // acc_C_R_V: result channel C, block row R, pixels 4 V .. 4 V + 3.
//#for c in 0..OUT_CHANNELS
//#for r in 0..PIX_ROWS
//#for v in 0..2
  var acc_${c}_${r}_${v} = vec4<f32>();
//#end
//#end
//#end

  for (var co = 0u; co < Co; co++) {
//#for k in 0..(9 * OUT_CHANNELS + LANES - 1) / LANES
    let item${k} = weight[co * WEIGHT_ITEMS + min(${k * LANES}u + lane, WEIGHT_ITEMS - 1u)];
//#end
    // w_C_T: the weight of result channel C, tap T = 3 ky + kx.
//#for c in 0..OUT_CHANNELS
//#for t in 0..9
    let w_${c}_${t} = vec4(subgroupBroadcast(item${(9 * c + t) / LANES}, ${(9 * c + t) % LANES}u));
//#end
//#end
    let dyBase = (n * Co + co) * H;
//#for j in 0..PIX_ROWS + 2
    {
      // Row J of the block's dy rows (image row iy0 + J - 1): in_1 and in_2 its own pixels, left
      // and right the pixel either side, zero outside the image. (Loading inside the branch, even
      // for rows that are always in the image, measured faster than unconditional loads: 33 against
      // 56 ms at the first layer's shape.)
      var in_1 = vec4<f32>();
      var in_2 = vec4<f32>();
      var edge = 0.0;
      let iy = i32(iy0) + ${j - 1};
      if (iy >= 0 && iy < i32(H)) {
        let rowStart = (dyBase + u32(iy)) * W4 + firstVec4;
        in_1 = dy[rowStart];
        in_2 = dy[rowStart + 1u];
        if (lane == 0u && hasLeft) {
          edge = dy[rowStart - 1u].w;
        } else if (lane == ${LANES - 1}u && hasRight) {
          edge = dy[rowStart + 2u].x;
        }
      }
      let left = select(0.0, select(subgroupShuffleUp(in_2.w, 1u), edge, lane == 0u), hasLeft);
      let right = select(0.0, select(subgroupShuffleDown(in_1.x, 1u), edge, lane == ${LANES - 1}u), hasRight);
      // win_KX_V: the values tap column kx meets for pixels 4 V .. 4 V + 3 (column ix + 1 - kx).
      let win_0_0 = vec4(in_1.y, in_1.z, in_1.w, in_2.x);
      let win_0_1 = vec4(in_2.y, in_2.z, in_2.w, right);
      let win_1_0 = in_1;
      let win_1_1 = in_2;
      let win_2_0 = vec4(left, in_1.x, in_1.y, in_1.z);
      let win_2_1 = vec4(in_1.w, in_2.x, in_2.y, in_2.z);
      // The row meets result row r = J + ky - 2 under kernel row ky; the condition is 1 exactly
      // when r is in the block (0 <= r < PIX_ROWS).
//#for ky in 0..3
//#if ((j + ky - 2 + 2 * PIX_ROWS) / PIX_ROWS % 3) / 2
//#for c in 0..OUT_CHANNELS
//#for v in 0..2
//#for kx in 0..3
      acc_${c}_${j + ky - 2}_${v} = fma(w_${c}_${3 * ky + kx}, win_${kx}_${v}, acc_${c}_${j + ky - 2}_${v});
//#end
//#end
//#end
//#end
//#end
    }
//#end
  }

  if (g < blocks) {
//#for c in 0..OUT_CHANNELS
//#for r in 0..PIX_ROWS
//#for v in 0..2
    dx[((n * ${OUT_CHANNELS}u + ${c}u) * H + iy0 + ${r}u) * W4 + firstVec4 + ${v}u] = acc_${c}_${r}_${v};
//#end
//#end
//#end
  }
}
