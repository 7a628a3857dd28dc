// Input gradient of a 3x3, stride 1, pad 1 convolution with few input channels (the first
// layer's 3) for CPU rasterisers (lavapipe): dx[n, c, iy, ix] = sum over co, ky, kx of
// dy[n, co, iy + 1 - ky, ix + 1 - kx] * weight[co, c, ky, kx].
//
// Why not conv2d_subgroup.wgsl: there a subgroup shares bands of 32 result rows, and
// here there are only OUT_CHANNELS (3) of them, so most of its work would be padding. Here each
// lane owns one pixel block of every result channel: PIX_ROWS image rows x 8 pixels, as
// 2 * PIX_ROWS vec4 accumulators per channel, and walks the Co channels of dy one at a time:
//   - the 9 * OUT_CHANNELS weights of a channel are the same for every lane, so the lanes load
//     them between them and broadcast each one;
//   - the lane loads its block's own PIX_ROWS dy rows (2 vec4s, and the pixel either side for the
//     kx = 0 and kx = 2 taps). Consecutive lanes take vertically adjacent blocks, so the row above
//     a block is the last row of the lane before, and the row below the first row of the lane
//     after: both come by a shuffle. The subgroup's two outer rows are loaded by lanes 0-7
//     between them (one vec4 each) and broadcast;
// so each loaded dy value serves up to 9 * OUT_CHANNELS multiply-adds. (On lavapipe every load
// is a per-lane loop and a broadcast or shuffle is a register permutation: see
// shaders/matmul_subgroup.wgsl.)
//
// Measured on lavapipe at the first layer's shape, best of interleaved rounds: sharing the rows
// above and below by shuffles ran 1.25-1.4x blocks side by side that load their own; 4-row blocks
// ran as fast as 8 and a little ahead of 2; one dy channel per loop turn ran up to 1.5x four, whose
// bodies are larger though they load less per multiply-add; and the loads inside a branch (always
// taken) ran 1.7x the same loads without one (presumably LLVM then schedules the whole body as one
// long block).
//
// Unroll parameters (engine/webgpu/unroll.ts): LANES (the adapter's fixed subgroup size, at least
// 8), OUT_CHANNELS (the convolution's input channels, at most 4), PIX_ROWS, WORKGROUP_SIZE (a
// multiple of LANES). Requires (engine/ops/conv2d/software-launch.ts checks) W a multiple of 8 and H of PIX_ROWS.
// Lanes past the last block compute the last block again, so that every lane takes part in every
// broadcast and shuffle, and store nothing.
//
// Dispatch: (workgroups over x and z, 1, 1); lane index g = (workgroup_id.x + workgroup_id.z *
// num_workgroups.x) * WORKGROUP_SIZE + local_invocation_index takes block g of
// batch * (W / 8) * (H / PIX_ROWS), in (image, block column, block row) order.
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
  let iy0 = b % blockRows * ${PIX_ROWS}u;
  let firstVec4 = b / blockRows % blocksPerRow * 2u;
  let n = b / blockRows / blocksPerRow;
  // Whether the block has pixels above, below, left and right of it in the image. A lane's
  // neighbour in the subgroup owns the block above (below) where there is one, since a subgroup
  // that wraps onto the next block column does so where hasAbove (hasBelow) is false.
  let hasAbove = iy0 > 0u;
  let hasBelow = iy0 + ${PIX_ROWS}u < H;
  let leftStep = select(0u, 1u, firstVec4 > 0u);
  let rightStep = select(0u, 2u, firstVec4 + 2u < W4);
  // The halo item this lane loads for the subgroup: items 0-3 are the row above lane 0's block,
  // 4-7 the row below the last lane's (the block's 2 vec4s, then the vec4s left and right of it,
  // whose .w and .x are the side pixels).
  let item = min(lane, 7u);
  let haloBlock = min(g - lane + select(0u, ${LANES - 1}u, item >= 4u), blocks - 1u);
  let haloY0 = haloBlock % blockRows * ${PIX_ROWS}u;
  let haloVec4 = haloBlock / blockRows % blocksPerRow * 2u;
  let haloN = haloBlock / blockRows / blocksPerRow;
  let haloRow = i32(haloY0) + select(-1, ${PIX_ROWS}, item >= 4u);
  let haloColumn = i32(haloVec4) + select(select(-1, 2, item % 4u == 3u), i32(item % 4u), item % 4u < 2u);
  let haloValid = haloRow >= 0 && haloRow < i32(H) && haloColumn >= 0 && haloColumn < i32(W4) && lane < 8u;
  let haloOffset = select(0u, (haloN * Co * H + u32(haloRow)) * W4 + u32(haloColumn), haloValid);

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
    // in_J_1, in_J_2, left_J, right_J: row J of the block's dy rows (image row iy0 + J - 1), its
    // two vec4s and the pixel either side, zero outside the image. The branch around the own rows'
    // loads is always taken; it is there for speed (above).
    let dyBase = ((n * Co + co) * H + iy0) * W4 + firstVec4;
    var halo = vec4<f32>();
    if (haloValid) {
      halo = dy[haloOffset + co * H * W4];
    }
//#for j in 1..PIX_ROWS + 1
    var in_${j}_1 = vec4<f32>();
    var in_${j}_2 = vec4<f32>();
    var left_${j} = 0.0;
    var right_${j} = 0.0;
    if (iy0 < H) {
      let rowStart = dyBase + ${j - 1}u * W4;
      in_${j}_1 = dy[rowStart];
      in_${j}_2 = dy[rowStart + 1u];
      left_${j} = select(0.0, dy[rowStart - leftStep].w, leftStep > 0u);
      right_${j} = select(0.0, dy[rowStart + rightStep].x, rightStep > 0u);
    }
//#end
    let in_0_1 = select(select(subgroupShuffleUp(in_${PIX_ROWS}_1, 1u), subgroupBroadcast(halo, 0u), lane == 0u), vec4<f32>(), !hasAbove);
    let in_0_2 = select(select(subgroupShuffleUp(in_${PIX_ROWS}_2, 1u), subgroupBroadcast(halo, 1u), lane == 0u), vec4<f32>(), !hasAbove);
    let left_0 = select(select(subgroupShuffleUp(left_${PIX_ROWS}, 1u), subgroupBroadcast(halo.w, 2u), lane == 0u), 0.0, !hasAbove);
    let right_0 = select(select(subgroupShuffleUp(right_${PIX_ROWS}, 1u), subgroupBroadcast(halo.x, 3u), lane == 0u), 0.0, !hasAbove);
    let in_${PIX_ROWS + 1}_1 = select(select(subgroupShuffleDown(in_1_1, 1u), subgroupBroadcast(halo, 4u), lane == ${LANES - 1}u), vec4<f32>(), !hasBelow);
    let in_${PIX_ROWS + 1}_2 = select(select(subgroupShuffleDown(in_1_2, 1u), subgroupBroadcast(halo, 5u), lane == ${LANES - 1}u), vec4<f32>(), !hasBelow);
    let left_${PIX_ROWS + 1} = select(select(subgroupShuffleDown(left_1, 1u), subgroupBroadcast(halo.w, 6u), lane == ${LANES - 1}u), 0.0, !hasBelow);
    let right_${PIX_ROWS + 1} = select(select(subgroupShuffleDown(right_1, 1u), subgroupBroadcast(halo.x, 7u), lane == ${LANES - 1}u), 0.0, !hasBelow);
    // Each row meets result row r = J + ky - 2 under kernel row ky; the condition is 1 exactly
    // when r is in the block (0 <= r < PIX_ROWS). win_KX_V: the values tap column kx meets for
    // pixels 4 V .. 4 V + 3 (column ix + 1 - kx).
//#for j in 0..PIX_ROWS + 2
    {
      let win_0_0 = vec4(in_${j}_1.y, in_${j}_1.z, in_${j}_1.w, in_${j}_2.x);
      let win_0_1 = vec4(in_${j}_2.y, in_${j}_2.z, in_${j}_2.w, right_${j});
      let win_1_0 = in_${j}_1;
      let win_1_1 = in_${j}_2;
      let win_2_0 = vec4(left_${j}, in_${j}_1.x, in_${j}_1.y, in_${j}_1.z);
      let win_2_1 = vec4(in_${j}_1.w, in_${j}_2.x, in_${j}_2.y, in_${j}_2.z);
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
