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
// ROWS_PER_LANE, PIX_VEC4S, INPUT_GRAD (0 or 1), WORKGROUP_SIZE (a multiple of LANES). Requires
// W a multiple of PIX (conv2d-launch.ts checks). Rows and pixel blocks past the end are clamped for
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
@group(0) @binding(1) var<storage, read> weight: array<f32>;
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

  // This invocation's pixel block: image n, row oy, vec4 columns firstVec4 .. + PIX_VEC4S - 1.
  let blocksPerRow = W4 / ${PIX_VEC4S}u;
  let blocks = params.batch * H * blocksPerRow;
  let block = (workgroup.x + workgroup.z * workgroups.x) * ${WORKGROUP_SIZE}u + localIndex;
  let inBlock = min(block, blocks - 1u);
  let firstVec4 = inBlock % blocksPerRow * ${PIX_VEC4S}u;
  let oy = inBlock / blocksPerRow % H;
  let n = inBlock / blocksPerRow / H;
  let hasLeft = firstVec4 > 0u;
  let hasRight = firstVec4 + ${PIX_VEC4S}u < W4;

  let band = workgroup.y * ${LANES * ROWS_PER_LANE}u;
  // The rows whose weights this lane loads (clamped into the matrix).
//#for r in 0..ROWS_PER_LANE
  let row${r} = min(band + ${ROWS_PER_LANE}u * lane + ${r}u, rows - 1u);
//#end

  // acc_R_V: row band + R, pixels 4 V .. 4 V + 3 of the block.
//#for row in 0..LANES * ROWS_PER_LANE
//#for v in 0..PIX_VEC4S
  var acc_${row}_${v} = vec4<f32>();
//#end
//#end

  for (var red = 0u; red < reduction; red++) {
    // Weights: w_R_T is weight(row R of this lane, channel red, tap T = 3 ky + kx), a scalar load
    // per lane (vec4 loads of 4 channels at once measured slower: the 4x longer unrolled body
    // spilled more than the loads saved).
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

    {
//#for ky in 0..3
      // The input row kernel row ky reads, as vec4s: left (for the kx = 0 tap of the first pixel),
      // the block's own, and right (for the kx = 2 tap of the last); zero outside the image.
      let iy${ky} = i32(oy) + ${ky - 1};
      let rowInside${ky} = iy${ky} >= 0 && iy${ky} < i32(H);
      let rowBase${ky} = ((n * reduction + red) * H + u32(clamp(iy${ky}, 0, i32(H) - 1))) * W4 + firstVec4;
      let left${ky} = select(vec4<f32>(), input[rowBase${ky} - select(0u, 1u, hasLeft)], rowInside${ky} && hasLeft);
//#for v in 0..PIX_VEC4S
      let mid${ky}_${v} = select(vec4<f32>(), input[rowBase${ky} + ${v}u], rowInside${ky});
//#end
      let right${ky} = select(vec4<f32>(), input[rowBase${ky} + select(${PIX_VEC4S - 1}u, ${PIX_VEC4S}u, hasRight)], rowInside${ky} && hasRight);
      // in_T_V: the input under tap T = 3 ky + kx for pixels 4 V .. 4 V + 3.
//#for v in 0..PIX_VEC4S
      let in_${3 * ky + 1}_${v} = mid${ky}_${v};
//#end
      let in_${3 * ky}_0 = vec4(left${ky}.w, mid${ky}_0.x, mid${ky}_0.y, mid${ky}_0.z);
//#for v in 1..PIX_VEC4S
      let in_${3 * ky}_${v} = vec4(mid${ky}_${v - 1}.w, mid${ky}_${v}.x, mid${ky}_${v}.y, mid${ky}_${v}.z);
//#end
//#for v in 0..PIX_VEC4S - 1
      let in_${3 * ky + 2}_${v} = vec4(mid${ky}_${v}.y, mid${ky}_${v}.z, mid${ky}_${v}.w, mid${ky}_${v + 1}.x);
//#end
      let in_${3 * ky + 2}_${PIX_VEC4S - 1} = vec4(mid${ky}_${PIX_VEC4S - 1}.y, mid${ky}_${PIX_VEC4S - 1}.z, mid${ky}_${PIX_VEC4S - 1}.w, right${ky}.x);
//#end
      // Each accumulator takes its 9 taps in one go (loaded and stored once per channel).
//#for r in 0..ROWS_PER_LANE
//#for from in 0..LANES
      {
//#for t in 0..9
        let w${t} = vec4(subgroupBroadcast(w_${r}_${t}, ${from}u));
//#end
//#for v in 0..PIX_VEC4S
        acc_${ROWS_PER_LANE * from + r}_${v} = fma(w8, in_8_${v}, fma(w7, in_7_${v}, fma(w6, in_6_${v}, fma(w5, in_5_${v}, fma(w4, in_4_${v}, fma(w3, in_3_${v}, fma(w2, in_2_${v}, fma(w1, in_1_${v}, fma(w0, in_0_${v}, acc_${ROWS_PER_LANE * from + r}_${v})))))))));
//#end
      }
//#end
//#end
    }
  }

  if (block >= blocks) {
    return;
  }
  let outBase = (n * rows * H + oy) * W4 + firstVec4;
//#for row in 0..LANES * ROWS_PER_LANE
  if (band + ${row}u < rows) {
    let at = outBase + (band + ${row}u) * H * W4;
//#if 1 - INPUT_GRAD
    let b = select(0.0, bias[band + ${row}u], params.hasBias == 1u);
//#for v in 0..PIX_VEC4S
    output[at + ${v}u] = activate(acc_${row}_${v} + b);
//#end
//#end
//#if INPUT_GRAD
//#for v in 0..PIX_VEC4S
    output[at + ${v}u] = acc_${row}_${v};
//#end
//#end
  }
//#end
}

//#if 1 - INPUT_GRAD
fn activate(value: vec4<f32>) -> vec4<f32> {
  if (params.activation == 1u) {
    return select(value, value * params.slope, value < vec4(0.0));
  }
  return value;
}
//#end
