// Weight gradient of a 3x3, stride 1, pad 1 convolution for CPU rasterisers (lavapipe), sharing the
// input image through subgroup broadcasts instead of workgroup memory:
//
//   dw[co, ci, ky, kx] = sum over (n, oy, ox) of dy[n, co, oy, ox] * x[n, ci, oy + ky - 1, ox + kx - 1]
//
// with x zero outside the image. Why this shape: lavapipe runs a subgroup as one SIMD vector of
// LANES invocations and does every load from a buffer lane by lane (a scalar load, a bounds check
// and an insert per lane), while a subgroup broadcast is one register shuffle; so the kernel counts
// loads (see shaders/matmul_subgroup.wgsl, whose scheme this follows).
//
// Blocking: a subgroup owns CI_BLOCK input channels, and each invocation CO_PER_LANE output
// channels (co = band + CO_PER_LANE * lane + r), so an invocation holds CO_PER_LANE x CI_BLOCK x 9
// accumulators. The reduction walks image rows (n, oy), and along each row 4 output pixels a step.
// Per step an invocation loads dy[n, co, oy, ox0 .. ox0 + 3] as one vec4 for each of its output
// channels (values only it needs). The subgroup needs the 3 * CI_BLOCK input rows
// x[n, ci, oy + ky - 1, ox0 - 1 .. ox0 + 4], which it deals out over the lanes (row j = 3 * c + ky
// to lane j % LANES, load slot j / LANES): each lane loads its rows' x[.., ox0 .. ox0 + 3] and
// broadcasts them. The kx windows are component selections of that vec4 and of the value at
// ox0 - 1, carried from the previous step, so they cost nothing; the one term of kx = 2 that reads
// x at ox0 + 4 is added by the next step, which loads it. A step so costs
// CO_PER_LANE + ceil(3 * CI_BLOCK / LANES) vec4 loads and 3 * CI_BLOCK broadcasts for
// 36 * CO_PER_LANE * CI_BLOCK multiply-adds (1152 per 7 at 4 x 8).
//
// Split: the reduction is long and, for the first layers, the (co band, ci block) pairs are few, so
// workgroup z sums rows [z * splitLength, (z + 1) * splitLength) of the N * H image rows and writes
// its partial sums to out[z]; shaders/conv2d/conv2d_sum_splits.wgsl adds them. With one split out is dw.
// Channels past Co or Ci are clamped (their sums are never stored).
//
// The blocks are spelled out with //#for (engine/webgpu/unroll.ts) so that every accumulator is a
// register. Unroll parameters: LANES (the adapter's subgroup size, which must be fixed; also the
// workgroup size), CO_PER_LANE, CI_BLOCK, ROW_VEC4S (W / 4), STORE_VEC4 (1 where Ci is a multiple
// of CI_BLOCK and CI_BLOCK of 4).
//
// Requires (checked by engine/ops/conv2d/software-weight-launch.ts): 3x3 kernel, stride 1, pad 1
// (so Ho = H and Wo = W), W a multiple of 4.
// Dispatch: (ceil(Ci / CI_BLOCK), ceil(Co / (LANES * CO_PER_LANE)), splits).
// Buffers: x [N, Ci, H, W]; dy [N, Co, H, W]; out [splits, Co, Ci, 3, 3] (overwritten).

enable subgroups;

struct Conv2dParams {
  batch: u32,
  inChannels: u32,
  inHeight: u32,
  inWidth: u32,
  outChannels: u32,
  outHeight: u32,
  outWidth: u32,
  pad: u32, // 1 here
  hasBias: u32, // unused here; the conv kernels share one uniform layout
  activation: u32, // unused here
  slope: f32, // unused here
  splitLength: u32, // image rows (n, oy) per split
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dy: array<vec4<f32>>;
//#if STORE_VEC4
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
//#end
//#if 1 - STORE_VEC4
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
//#end
@group(0) @binding(3) var<uniform> params: Conv2dParams;

@compute @workgroup_size(${LANES})
fn main(
  @builtin(workgroup_id) workgroup: vec3<u32>,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let Ci = params.inChannels;
  let Co = params.outChannels;
  let H = params.inHeight;
  // The row width is compiled in: a loop of run-time trip count around the block measured at half
  // the speed on lavapipe for the 4-pixel rows of the last layer, and 10-40% slower on the others;
  // spelling out 2 or 4 steps per iteration instead measured at half the speed.
  let rowVec4s = ${ROW_VEC4S}u;
  let ciBlock = workgroup.x * ${CI_BLOCK}u;
  let coBand = workgroup.y * ${LANES * CO_PER_LANE}u;
  let rowBegin = workgroup.z * params.splitLength;
  let rowEnd = min(rowBegin + params.splitLength, params.batch * H);

//#for r in 0..CO_PER_LANE
  let co${r} = min(coBand + ${CO_PER_LANE}u * lane + ${r}u, Co - 1u);
//#end
  // Load slot S of this lane holds input row j = LANES * S + lane (clamped) of the block: input
  // channel ci = block + j / 3 at kernel row ky = j % 3.
//#for s in 0..(3 * CI_BLOCK + LANES - 1) / LANES
  let slotRow${s} = min(${LANES * s}u + lane, ${3 * CI_BLOCK - 1}u);
  let slotCi${s} = min(ciBlock + slotRow${s} / 3u, Ci - 1u);
  let slotKy${s} = i32(slotRow${s} % 3u);
//#end

  // acc_R_C_T: dw[co R of this lane, ci block + C, tap T = 3 ky + kx].
//#for r in 0..CO_PER_LANE
//#for c in 0..CI_BLOCK
//#for t in 0..9
  var acc_${r}_${c}_${t} = 0.0;
//#end
//#end
//#end

  // The image and row of rowBegin, then stepped: a division by H per row would cost a scalar
  // division per lane.
  var n = rowBegin / H;
  var oy = rowBegin % H;
  for (var row = rowBegin; row < rowEnd; row++) {
//#for r in 0..CO_PER_LANE
    let dyRow${r} = ((n * Co + co${r}) * H + oy) * rowVec4s;
//#end
//#for s in 0..(3 * CI_BLOCK + LANES - 1) / LANES
    let iy${s} = i32(oy) + slotKy${s} - 1;
    let inside${s} = iy${s} >= 0 && iy${s} < i32(H);
    let xRow${s} = ((n * Ci + slotCi${s}) * H + u32(clamp(iy${s}, 0, i32(H) - 1))) * rowVec4s;
//#end
    // left_J = input row J at ox0 - 1, lastG_R = dy of output channel R at ox0 - 1; zero at the left
    // edge. Tap kx = 2 of pixel ox0 - 1 reads x at ox0, so that term waits for the step that
    // loads it (and at the right edge, where x is zero, never comes).
//#for j in 0..3 * CI_BLOCK
    var left${j} = 0.0;
//#end
//#for r in 0..CO_PER_LANE
    var lastG${r} = 0.0;
//#end
    for (var q = 0u; q < rowVec4s; q++) {
//#for s in 0..(3 * CI_BLOCK + LANES - 1) / LANES
      let here${s} = select(vec4<f32>(), x[xRow${s} + q], inside${s});
//#end
//#for r in 0..CO_PER_LANE
      let g${r} = dy[dyRow${r} + q];
//#end
//#for j in 0..3 * CI_BLOCK
      {
        let c = subgroupBroadcast(here${j / LANES}, ${j % LANES}u);
//#for r in 0..CO_PER_LANE
        acc_${r}_${j / 3}_${3 * (j % 3)} = fma(g${r}.w, c.z, fma(g${r}.z, c.y, fma(g${r}.y, c.x, fma(g${r}.x, left${j}, acc_${r}_${j / 3}_${3 * (j % 3)}))));
        acc_${r}_${j / 3}_${3 * (j % 3) + 1} = fma(g${r}.w, c.w, fma(g${r}.z, c.z, fma(g${r}.y, c.y, fma(g${r}.x, c.x, acc_${r}_${j / 3}_${3 * (j % 3) + 1}))));
        acc_${r}_${j / 3}_${3 * (j % 3) + 2} = fma(g${r}.z, c.w, fma(g${r}.y, c.z, fma(g${r}.x, c.y, fma(lastG${r}, c.x, acc_${r}_${j / 3}_${3 * (j % 3) + 2}))));
//#end
        left${j} = c.w;
      }
//#end
//#for r in 0..CO_PER_LANE
      lastG${r} = g${r}.w;
//#end
    }
    oy++;
    if (oy == H) {
      oy = 0u;
      n++;
    }
  }

  // A lane's sums for one output channel are 9 * CI_BLOCK consecutive floats of out; when they
  // start at multiples of 4 (STORE_VEC4) they go out as vec4s, a quarter of the per-lane stores,
  // which the last layers (few pixels per output) notice.
//#if STORE_VEC4
  let outBase = workgroup.z * Co * Ci * 9u / 4u;
//#for r in 0..CO_PER_LANE
  if (coBand + ${CO_PER_LANE}u * lane + ${r}u < Co) {
    let at = outBase + (co${r} * Ci + ciBlock) * 9u / 4u;
//#for v in 0..9 * CI_BLOCK / 4
    out[at + ${v}u] = vec4(acc_${r}_${4 * v / 9}_${4 * v % 9}, acc_${r}_${(4 * v + 1) / 9}_${(4 * v + 1) % 9}, acc_${r}_${(4 * v + 2) / 9}_${(4 * v + 2) % 9}, acc_${r}_${(4 * v + 3) / 9}_${(4 * v + 3) % 9});
//#end
  }
//#end
//#end
//#if 1 - STORE_VEC4
  let outBase = workgroup.z * Co * Ci * 9u;
//#for r in 0..CO_PER_LANE
//#for c in 0..CI_BLOCK
  if (coBand + ${CO_PER_LANE}u * lane + ${r}u < Co && ciBlock + ${c}u < Ci) {
    let at = outBase + (co${r} * Ci + ciBlock + ${c}u) * 9u;
//#for t in 0..9
    out[at + ${t}u] = acc_${r}_${c}_${t};
//#end
  }
//#end
//#end
//#end
}
