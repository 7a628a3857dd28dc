// 3x3, stride 1, pad 1 convolution for CPU rasterisers (lavapipe), forward or input gradient, as an
// implicit GEMM that shares weights through subgroup broadcasts instead of workgroup memory (the
// reasons are those of shaders/matmul_subgroup.wgsl: there every load is a per-lane loop and a
// broadcast is a register shuffle, so the kernel counts loads).
//
// Both passes have one form, out[n][row][p] = sum over red, tap of weight(row, red, tap) *
// in[n][red][p + offset(tap)], zero outside the image:
//   forward (INPUT_GRAD 0):  in = x,  out = y,  rows = output channels, red = input channels,
//                            weight(row, red, ky, kx) = weight[row, red, ky, kx];
//                            then + bias and the activation.
//   input gradient (1):      in = dy, out = dx, rows = input channels,  red = output channels,
//                            weight(row, red, ky, kx) = weight[red, row, 2 - ky, 2 - kx].
//
// Blocking: a subgroup owns ROWS = LANES * ROWS_PER_LANE rows (the workgroup's band) and each
// invocation PIX = 4 * PIX_VEC4S consecutive pixels of one image row, so it holds ROWS x PIX
// accumulators. Per reduction channel an invocation loads, for each kernel row ky, its pixels' input
// row as PIX_VEC4S + 2 vec4s (the vec4s either side give the pixels that the kx = 0 and kx = 2
// taps reach past its block; the three shifted windows are then free component selections), and
// the 9 weights of each of its ROWS_PER_LANE rows, which the subgroup shares by broadcast. Each
// accumulator then takes all 9 taps at once, so that it is loaded and stored once per channel
// (it lives in memory: there are more accumulators than registers).
//
// Unroll parameters (engine/webgpu/unroll.ts): LANES (the adapter's fixed subgroup size),
// ROWS_PER_LANE, PIX_VEC4S, PIX_ROWS (image rows per lane), INPUT_GRAD (0 or 1), WEIGHT_VEC4
// (input gradient only: rows a multiple of 4 and ROWS_PER_LANE 4), WORKGROUP_SIZE (a multiple of
// LANES). Requires W a multiple of 4 * PIX_VEC4S and H of PIX_ROWS (engine/ops/conv2d/software-launch.ts checks). Rows and pixel blocks past the end are clamped for
// loading and never stored, so that every lane takes part in every broadcast.
//
// Dispatch: (blocks over x and z, ceil(rows / ROWS), 1); the block index is
// (workgroup_id.x + workgroup_id.z * num_workgroups.x) * WORKGROUP_SIZE + local index, over
// batch * H * (W / PIX) blocks.

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

@group(0) @binding(0) var<storage, read> input: array<vec4<f32>>;
//#if WEIGHT_VEC4
@group(0) @binding(1) var<storage, read> weight: array<vec4<f32>>;
//#end
//#if 1 - WEIGHT_VEC4
@group(0) @binding(1) var<storage, read> weight: array<f32>;
//#end
//#if 1 - INPUT_GRAD
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> params: Conv2dParams;
//#end
//#if INPUT_GRAD
@group(0) @binding(2) var<storage, read_write> output: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Conv2dParams;
//#end

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(
  @builtin(workgroup_id) workgroup: vec3<u32>,
  @builtin(num_workgroups) workgroups: vec3<u32>,
  @builtin(local_invocation_index) localIndex: u32,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let H = params.inHeight;
  let W4 = params.inWidth / 4u;
//#if 1 - INPUT_GRAD
  let rows = params.outChannels;
  let reduction = params.inChannels;
//#end
//#if INPUT_GRAD
  let rows = params.inChannels;
  let reduction = params.outChannels;
//#end

  // This invocation's pixel block: image n, rows oy0 .. oy0 + PIX_ROWS - 1, vec4 columns
  // firstVec4 .. + PIX_VEC4S - 1.
  let blocksPerRow = W4 / ${PIX_VEC4S}u;
  let blockRows = H / ${PIX_ROWS}u;
  let blocks = params.batch * blockRows * blocksPerRow;
  let block = (workgroup.x + workgroup.z * workgroups.x) * ${WORKGROUP_SIZE}u + localIndex;
  let inBlock = min(block, blocks - 1u);
  let firstVec4 = inBlock % blocksPerRow * ${PIX_VEC4S}u;
  let oy0 = inBlock / blocksPerRow % blockRows * ${PIX_ROWS}u;
  let n = inBlock / blocksPerRow / blockRows;
  let hasLeft = firstVec4 > 0u;
  let hasRight = firstVec4 + ${PIX_VEC4S}u < W4;

  let band = workgroup.y * ${LANES * ROWS_PER_LANE}u;
  // The rows whose weights this lane loads (clamped into the matrix).
//#for r in 0..ROWS_PER_LANE
  let row${r} = min(band + ${ROWS_PER_LANE}u * lane + ${r}u, rows - 1u);
//#end

  // acc_R_Y_V: row band + R, pixel row oy0 + Y, pixels 4 V .. 4 V + 3 of the block.
//#for row in 0..LANES * ROWS_PER_LANE
//#for y in 0..PIX_ROWS
//#for v in 0..PIX_VEC4S
  var acc_${row}_${y}_${v} = vec4<f32>();
//#end
//#end
//#end

  for (var red = 0u; red < reduction; red++) {
    // Weights: w_R_T is weight(row R of this lane, channel red, tap T = 3 ky + kx).
//#if WEIGHT_VEC4
    // The input gradient's 4 rows of a lane are consecutive input channels, whose weights for one
    // output channel are 36 contiguous floats: 9 vec4 loads (clamped as a whole to stay aligned).
    let wBase = (red * rows + min(band + 4u * lane, rows - 4u)) * 9u / 4u;
//#for i in 0..9
    let wv${i} = weight[wBase + ${i}u];
//#end
//#for r in 0..4
//#for t in 0..9
    let w_${r}_${t} = wv${(9 * r + 8 - t) / 4}[${(9 * r + 8 - t) % 4}];
//#end
//#end
//#end
//#if 1 - WEIGHT_VEC4
    // Otherwise 9 scalar loads per row (vec4 loads of 4 channels of a forward row at once measured
    // slower: the 4x longer unrolled body spilled more than the loads saved).
//#for r in 0..ROWS_PER_LANE
//#for t in 0..9
//#if 1 - INPUT_GRAD
    let w_${r}_${t} = weight[(row${r} * reduction + red) * 9u + ${t}u];
//#end
//#if INPUT_GRAD
    let w_${r}_${t} = weight[(red * rows + row${r}) * 9u + ${8 - t}u];
//#end
//#end
//#end
//#end

    let plane = (n * reduction + red) * H;
//#for j in 0..PIX_ROWS + 2
    // Input row oy0 + J - 1 as vec4s: left (for the kx = 0 tap of the first pixel), the block's
    // own, and right (for the kx = 2 tap of the last); zero outside the image, and not loaded there.
    var left${j} = vec4<f32>();
//#for v in 0..PIX_VEC4S
    var mid${j}_${v} = vec4<f32>();
//#end
    var right${j} = vec4<f32>();
    {
      let iy = i32(oy0) + ${j - 1};
      if (iy >= 0 && iy < i32(H)) {
        let rowBase = (plane + u32(iy)) * W4 + firstVec4;
        if (hasLeft) {
          left${j} = input[rowBase - 1u];
        }
//#for v in 0..PIX_VEC4S
        mid${j}_${v} = input[rowBase + ${v}u];
//#end
        if (hasRight) {
          right${j} = input[rowBase + ${PIX_VEC4S}u];
        }
      }
    }
    // in_J_KX_V: input row J under tap column kx, for pixels 4 V .. 4 V + 3.
//#for v in 0..PIX_VEC4S
    let in_${j}_1_${v} = mid${j}_${v};
//#end
    let in_${j}_0_0 = vec4(left${j}.w, mid${j}_0.x, mid${j}_0.y, mid${j}_0.z);
//#for v in 1..PIX_VEC4S
    let in_${j}_0_${v} = vec4(mid${j}_${v - 1}.w, mid${j}_${v}.x, mid${j}_${v}.y, mid${j}_${v}.z);
//#end
//#for v in 0..PIX_VEC4S - 1
    let in_${j}_2_${v} = vec4(mid${j}_${v}.y, mid${j}_${v}.z, mid${j}_${v}.w, mid${j}_${v + 1}.x);
//#end
    let in_${j}_2_${PIX_VEC4S - 1} = vec4(mid${j}_${PIX_VEC4S - 1}.y, mid${j}_${PIX_VEC4S - 1}.z, mid${j}_${PIX_VEC4S - 1}.w, right${j}.x);
//#end

    // Each accumulator takes its 9 taps in one go (loaded and stored once per channel); pixel
    // row Y under kernel row ky reads input row Y + ky.
//#for r in 0..ROWS_PER_LANE
//#for from in 0..LANES
    {
//#for t in 0..9
      let w${t} = vec4(subgroupBroadcast(w_${r}_${t}, ${from}u));
//#end
//#for y in 0..PIX_ROWS
//#for v in 0..PIX_VEC4S
      acc_${ROWS_PER_LANE * from + r}_${y}_${v} = fma(w8, in_${y + 2}_2_${v}, fma(w7, in_${y + 2}_1_${v}, fma(w6, in_${y + 2}_0_${v}, fma(w5, in_${y + 1}_2_${v}, fma(w4, in_${y + 1}_1_${v}, fma(w3, in_${y + 1}_0_${v}, fma(w2, in_${y}_2_${v}, fma(w1, in_${y}_1_${v}, fma(w0, in_${y}_0_${v}, acc_${ROWS_PER_LANE * from + r}_${y}_${v})))))))));
//#end
//#end
    }
//#end
//#end
  }

//#if 1 - INPUT_GRAD
  // Each lane loads the biases of its own weight rows, and the subgroup shares them (before any
  // lane leaves: a broadcast needs every lane).
//#for r in 0..ROWS_PER_LANE
  let bias${r} = select(0.0, bias[row${r}], params.hasBias == 1u);
//#end
//#for from in 0..LANES
//#for r in 0..ROWS_PER_LANE
  let b_${ROWS_PER_LANE * from + r} = subgroupBroadcast(bias${r}, ${from}u);
//#end
//#end
//#end
  if (block >= blocks) {
    return;
  }
  let outBase = (n * rows * H + oy0) * W4 + firstVec4;
//#for row in 0..LANES * ROWS_PER_LANE
  if (band + ${row}u < rows) {
    let at = outBase + (band + ${row}u) * H * W4;
//#if 1 - INPUT_GRAD
    let b = b_${row};
//#end
//#for y in 0..PIX_ROWS
//#for v in 0..PIX_VEC4S
//#if 1 - INPUT_GRAD
    output[at + ${y}u * W4 + ${v}u] = activate(acc_${row}_${y}_${v} + b);
//#end
//#if INPUT_GRAD
    output[at + ${y}u * W4 + ${v}u] = acc_${row}_${y}_${v};
//#end
//#end
//#end
  }
//#end
}

//#if 1 - INPUT_GRAD
fn activate(value: vec4<f32>) -> vec4<f32> {
  return select(value, value * params.slope, (value < vec4(0.0)) & vec4(params.activation == 1u));
}
//#end
