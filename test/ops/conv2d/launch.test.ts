import t, { type Test } from 'tap';
import {
  conv2dBackwardInputLaunches, conv2dBackwardWeightLaunches, conv2dForwardLaunches, type HardwareLaunchOptions, MIN_SPLIT_LENGTH,
} from '../../../engine/ops/conv2d/hardware-launch.ts';
import { conv2dNaiveBackwardInputLaunch, conv2dNaiveBackwardWeightLaunch, conv2dNaiveForwardLaunch } from '../../../engine/ops/conv2d/naive-launch.ts';
import {
  planConv2dBackwardInput, planConv2dBackwardWeight, planConv2dForward,
} from '../../../engine/ops/conv2d/plan.ts';
import { type Conv2dProblem, conv2dOutputSize } from '../../../engine/ops/conv2d/problem.ts';
import { conv2dBackwardInputNarrowLaunch, conv2dForwardNarrowLaunch, conv2dSubgroupLaunch } from '../../../engine/ops/conv2d/software-launch.ts';
import { type Conv2dPassPlan, MAX_BINDING_BYTES } from '../../../engine/ops/conv2d/split-sums.ts';
import { FILL_WORKGROUPS, MAX_WORKGROUPS_PER_DIMENSION, SPREAD_WORKGROUP_SIZE, spreadWorkgroups } from '../../../engine/webgpu/grid.ts';
import { DEFAULT_KERNEL_LIMITS, type KernelLimits } from '../../../engine/webgpu/kernel-plan.ts';
import { maxPool2dBackwardLaunch, maxPool2dForwardLaunch, maxPool2dOutputSize } from '../../../engine/ops/max-pool2d-launch.ts';
import type { KernelLaunch } from '../../../engine/webgpu/launch.ts';

const vanillaLayers: Array<[number, number, number]> = [[3, 64, 128], [64, 128, 64], [128, 256, 32], [256, 512, 16], [512, 1024, 8], [1024, 2048, 4]];
const model = (Ci: number, Co: number, size: number, N = 8): Conv2dProblem =>
  ({ N, Ci, H: size, W: size, Co, KH: 3, KW: 3, stride: 1, pad: 1, hasBias: true, activation: 'leaky_relu', slope: 0.01 });
const odd: Conv2dProblem[] = [
  { N: 3, Ci: 5, H: 9, W: 11, Co: 7, KH: 3, KW: 3, stride: 1, pad: 1, hasBias: true, activation: 'leaky_relu', slope: 0.01 },
  { N: 3, Ci: 5, H: 9, W: 11, Co: 7, KH: 1, KW: 1, stride: 1, pad: 0, hasBias: false, activation: 'none', slope: 0 },
  { N: 1, Ci: 5, H: 9, W: 11, Co: 7, KH: 5, KW: 5, stride: 2, pad: 2, hasBias: true, activation: 'none', slope: 0 },
  { N: 2, Ci: 37, H: 13, W: 7, Co: 70, KH: 2, KW: 3, stride: 3, pad: 1, hasBias: true, activation: 'none', slope: 0 },
];
const problems = [...odd, ...vanillaLayers.map(([Ci, Co, size]) => model(Ci, Co, size)), model(3, 64, 128, 512)];
/** Lavapipe's limits, and an H100's under Vulkan (48 KiB of workgroup memory, 4 GiB bindings). */
const lavapipeLimits: KernelLimits = { maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 1024, maxStorageBufferBindingSize: 2 ** 27 };
const h100Limits: KernelLimits = { maxComputeWorkgroupStorageSize: 49152, maxComputeInvocationsPerWorkgroup: 1024, maxStorageBufferBindingSize: 2 ** 32 - 4 };
const limitSets: Array<[string, KernelLimits]> = [['WebGPU defaults', DEFAULT_KERNEL_LIMITS], ['lavapipe', lavapipeLimits], ['H100', h100Limits]];

function constant(launch: KernelLaunch, name: string): number {
  const value = launch.constants?.[name];
  if (value === undefined) throw new Error(`${launch.kernel} has no constant ${name}`);
  return value;
}

function invocations(launch: KernelLaunch): number {
  return (constant(launch, 'TILE_M') / constant(launch, 'THREAD_M')) * (constant(launch, 'TILE_N') / constant(launch, 'THREAD_N'));
}

function checkDispatchLimits(t: { ok(value: unknown, message: string): unknown }, launch: KernelLaunch, limits = DEFAULT_KERNEL_LIMITS): void {
  t.ok(launch.workgroups.every((count) => Number.isInteger(count) && count >= 1 && count <= MAX_WORKGROUPS_PER_DIMENSION),
    `${launch.kernel} workgroups ${launch.workgroups} within 1..65535`);
  if (launch.constants?.TILE_M) {
    const threads = invocations(launch);
    t.ok(threads <= limits.maxComputeInvocationsPerWorkgroup, `${launch.kernel} ${threads} invocations per workgroup`);
    const bytes = constant(launch, 'TILE_K') * (constant(launch, 'TILE_M') + constant(launch, 'TILE_N')) * 4;
    t.ok(bytes <= limits.maxComputeWorkgroupStorageSize, `${launch.kernel} ${bytes} bytes of workgroup memory`);
  }
}

const splitLengthOf = (launch: KernelLaunch) => new Uint32Array(launch.uniforms)[11]!;

/** The split-K arithmetic every pass shares: whole k steps, none empty, the reduction covered, the scratch and the sum sized to the output. */
function checkSplits(t: Test, plan: Conv2dPassPlan, reduction: number, outputFloats: number, limits: KernelLimits, label: string): void {
  const [partials, sum] = plan.launches;
  const splitLength = splitLengthOf(partials!);
  t.equal(splitLength % constant(partials!, 'TILE_K'), 0, `${label}: the split length is a multiple of TILE_K`);
  t.ok(splitLength * plan.splits >= reduction && splitLength * (plan.splits - 1) < reduction,
    `${label}: ${plan.splits} splits of ${splitLength} cover ${reduction}, none empty`);
  if (plan.splits === 1) {
    t.equal(plan.launches.length, 1, `${label}: one split, one launch`);
    t.equal(plan.scratchFloats, 0);
    return;
  }
  t.ok(splitLength >= MIN_SPLIT_LENGTH, `${label}: splits of ${splitLength} are no shorter than ${MIN_SPLIT_LENGTH}`);
  t.equal(plan.launches.length, 2);
  t.equal(plan.scratchFloats, plan.splits * outputFloats, `${label}: scratch for ${plan.splits} partial results`);
  t.ok(plan.scratchFloats * 4 <= Math.min(MAX_BINDING_BYTES, limits.maxStorageBufferBindingSize), `${label}: scratch fits one binding`);
  checkDispatchLimits(t, sum!, limits);
  t.ok(sum!.workgroups[0] * sum!.workgroups[2] * SPREAD_WORKGROUP_SIZE >= outputFloats, `${label}: the sum covers the output`);
  t.same(Array.from(new Uint32Array(sum!.uniforms).slice(0, 2)), [outputFloats, plan.splits]);
}

/**
 * Decodes every workgroup of a forward or input-gradient partial launch as its shader does (the
 * column tile from x and z, the row tile and the split from y) and checks that each (split, row
 * tile, column tile) is reached by exactly one workgroup, so that every output element of every
 * split is written once.
 */
function checkEachTileOnce(t: Test, plan: Conv2dPassPlan, rows: number, columns: number, label: string): void {
  const launch = plan.launches[0]!;
  const rowTiles = Math.ceil(rows / constant(launch, 'TILE_M'));
  const columnTiles = Math.ceil(columns / constant(launch, 'TILE_N'));
  const [x, y, z] = launch.workgroups;
  t.equal(y, rowTiles * plan.splits, `${label}: y holds ${rowTiles} row tiles for each of ${plan.splits} splits`);
  const reached = new Uint8Array(plan.splits * rowTiles * columnTiles);
  for (let wz = 0; wz < z; wz++) {
    for (let wy = 0; wy < y; wy++) {
      for (let wx = 0; wx < x; wx++) {
        const columnTile = wx + wz * x;
        if (columnTile < columnTiles) reached[(Math.floor(wy / rowTiles) * rowTiles + (wy % rowTiles)) * columnTiles + columnTile]++;
      }
    }
  }
  t.ok(reached.every((n) => n === 1), `${label}: each of ${reached.length} (split, row tile, column tile) reached once`);
}

t.test('output size follows floor((H + 2 pad - K) / stride) + 1', async (t) => {
  t.same(conv2dOutputSize(odd[0]!), { Ho: 9, Wo: 11 });
  t.same(conv2dOutputSize(odd[2]!), { Ho: 5, Wo: 6 });
  t.same(conv2dOutputSize(odd[3]!), { Ho: 5, Wo: 3 });
  t.throws(() => conv2dForwardLaunches({ ...odd[0]!, KH: 12, pad: 1 }), /does not fit/);
  t.throws(() => conv2dForwardLaunches({ ...odd[0]!, stride: 0 }), /stride must be a positive integer/);
});

const splitProblems = [...problems, ...[1, 2, 64].flatMap((N) => vanillaLayers.map(([Ci, Co, size]) => model(Ci, Co, size, N)))];

t.test('forward and input-gradient splits write every output of every split once and cover the reduction', async (t) => {
  for (const [name, limits] of limitSets) {
    for (const p of splitProblems) {
      const { Ho, Wo } = conv2dOutputSize(p);
      const shape = `${name} x[${p.N},${p.Ci},${p.H},${p.W}] ${p.KH}x${p.KW} s${p.stride} -> ${p.Co}`;
      const forward = conv2dForwardLaunches(p, { limits });
      const partials = forward.launches[0]!;
      checkDispatchLimits(t, partials, limits);
      t.same([constant(partials, 'KERNEL_H'), constant(partials, 'KERNEL_W'), constant(partials, 'STRIDE')], [p.KH, p.KW, p.stride]);
      checkEachTileOnce(t, forward, p.Co, p.N * Ho * Wo, `forward ${shape}`);
      checkSplits(t, forward, p.Ci * p.KH * p.KW, p.N * p.Co * Ho * Wo, limits, `forward ${shape}`);
      const input = conv2dBackwardInputLaunches(p, { limits });
      checkDispatchLimits(t, input.launches[0]!, limits);
      checkEachTileOnce(t, input, p.Ci, p.N * p.H * p.W, `input gradient ${shape}`);
      checkSplits(t, input, p.Co * p.KH * p.KW, p.N * p.Ci * p.H * p.W, limits, `input gradient ${shape}`);
    }
  }
});

t.test('a split forward leaves the activation to the sum and the bias to split 0', async (t) => {
  const p = model(512, 1024, 8);
  const plan = conv2dForwardLaunches(p);
  t.ok(plan.splits > 1, `${plan.splits} splits`);
  const partials = new Uint32Array(plan.launches[0]!.uniforms);
  t.same([partials[8], partials[9]], [1, 0], 'the partial results: bias on (split 0 adds it), activation off');
  const sum = plan.launches[1]!.uniforms;
  t.same([new Uint32Array(sum)[2], new Float32Array(sum)[3]], [1, Math.fround(0.01)], 'the sum applies the leaky ReLU');
  t.equal(new Uint32Array(conv2dForwardLaunches(p, { splits: 1 }).launches[0]!.uniforms)[9], 1, 'one split applies it itself');
  t.equal(new Uint32Array(conv2dBackwardInputLaunches(p).launches[1]!.uniforms)[2], 0, 'the input gradient has no activation');
  t.equal(new Uint32Array(conv2dBackwardWeightLaunches(model(3, 64, 128)).launches[1]!.uniforms)[2], 0, 'nor the weight gradient');
});

t.test('an explicit split count is kept to whole k steps and the scratch cap', async (t) => {
  const p = odd[0]!; // 7 output channels take 8-row tiles 8 deep: K = 45 in 6 k steps
  for (const [splits, expected] of [[1, 1], [2, 2], [4, 3], [6, 6], [10, 6]] as const) {
    const plan = conv2dForwardLaunches(p, { splits });
    t.equal(plan.splits, expected, `${splits} asked, ${expected} made`);
    checkEachTileOnce(t, plan, p.Co, p.N * p.H * p.W, `${splits} asked`);
  }
  const huge = model(64, 64, 128, 64);
  const capped = conv2dBackwardInputLaunches(huge, { splits: 8 });
  t.equal(capped.splits, 1, 'a 256 MiB output takes no scratch');
  const roomy = conv2dBackwardInputLaunches({ ...huge, N: 8 }, { splits: 8 });
  t.equal(roomy.splits, 4, 'a 32 MiB output: 4 partial results fit 128 MiB');
});

t.test('every model layer forward and input gradient reaches the target at batch 8 and 64', async (t) => {
  for (const [name, limits] of limitSets) {
    for (const N of [8, 64]) {
      vanillaLayers.forEach(([Ci, Co, size], i) => {
        const p = model(Ci, Co, size, N);
        const passes: Array<[string, Conv2dPassPlan, number, number]> = [
          ['forward', conv2dForwardLaunches(p, { limits }), Co, N * size * size],
          ['input gradient', conv2dBackwardInputLaunches(p, { limits }), Ci, N * size * size],
        ];
        for (const [pass, plan, rows, columns] of passes) {
          const launch = plan.launches[0]!;
          const workgroups = Math.ceil(rows / constant(launch, 'TILE_M')) * Math.ceil(columns / constant(launch, 'TILE_N')) * plan.splits;
          t.ok(workgroups >= FILL_WORKGROUPS && invocations(launch) >= 64,
            `${name} batch ${N} layer ${i + 1} ${pass}: ${workgroups} workgroups of ${invocations(launch)} (${plan.splits} splits)`);
        }
      });
    }
  }
});

t.test('weight gradient splits cover the reduction and size the scratch', async (t) => {
  for (const [name, limits] of limitSets) {
    for (const p of problems) {
      const { Ho, Wo } = conv2dOutputSize(p);
      const plan = conv2dBackwardWeightLaunches(p, { limits });
      const partials = plan.launches[0]!;
      checkDispatchLimits(t, partials, limits);
      t.equal(plan.splits, partials.workgroups[2]);
      t.ok(partials.workgroups[0] * constant(partials, 'TILE_N') >= p.Ci * p.KH * p.KW, 'columns covered');
      t.ok(partials.workgroups[1] * constant(partials, 'TILE_M') >= p.Co, 'rows covered');
      checkSplits(t, plan, p.N * Ho * Wo, p.Co * p.Ci * p.KH * p.KW, limits, `${name} weight gradient ${partials.describe}`);
    }
  }
  t.ok(conv2dBackwardWeightLaunches(model(3, 64, 128)).splits > 1, 'the first layer splits its 131072-long reduction');
  t.equal(conv2dBackwardWeightLaunches(model(1024, 2048, 4)).splits, 1, 'the last layer has tiles enough');
});

t.test('tile choice: the longest k step that fits, a short reduction staged whole', async (t) => {
  const first = conv2dForwardLaunches(model(3, 64, 128)).launches[0]!;
  t.same([constant(first, 'TILE_M'), constant(first, 'TILE_N'), constant(first, 'TILE_K')], [64, 64, 28],
    'the first layer stages its 27-long reduction in one k step');
  const firstWeight = conv2dBackwardWeightLaunches(model(3, 64, 128)).launches[0]!;
  t.same([constant(firstWeight, 'TILE_N'), constant(firstWeight, 'THREAD_M'), constant(firstWeight, 'THREAD_N'), constant(firstWeight, 'TILE_K')], [32, 4, 4, 32],
    'the 27 weight-gradient columns take a 32-wide tile with 4x4 blocks (128 invocations) and k steps of 32');
  const third = conv2dForwardLaunches(model(128, 256, 32)).launches[0]!;
  t.same([constant(third, 'THREAD_M'), constant(third, 'THREAD_N')], [8, 16], 'the forward 128x128 tiles take 8x16 blocks');
  const thirdWeight = conv2dBackwardWeightLaunches(model(128, 256, 32)).launches[0]!;
  t.same([constant(thirdWeight, 'TILE_M'), constant(thirdWeight, 'TILE_N'), constant(thirdWeight, 'THREAD_M'), constant(thirdWeight, 'THREAD_N')],
    [128, 128, 8, 16], 'the weight-gradient 128x128 tiles take 8x16 blocks');
  t.throws(() => conv2dBackwardInputLaunches(odd[0]!, { tiles: { tileM: 128, tileN: 128, tileK: 16, threadM: 8, threadN: 16 } }), /4 or 8/);
  for (const [name, limits] of limitSets) {
    for (const [Ci, Co, size] of vanillaLayers.slice(1)) {
      const p = model(Ci, Co, size);
      const options: HardwareLaunchOptions = { limits };
      for (const plan of [conv2dForwardLaunches(p, options), conv2dBackwardInputLaunches(p, options), conv2dBackwardWeightLaunches(p, options)]) {
        const launch = plan.launches[0]!;
        const tileK = constant(launch, 'TILE_K');
        const doubled = 2 * tileK * (constant(launch, 'TILE_M') + constant(launch, 'TILE_N')) * 4;
        t.ok(tileK === 32 || doubled > limits.maxComputeWorkgroupStorageSize, `${name} ${launch.kernel} ${launch.describe}: k step ${tileK} is the longest that fits`);
      }
    }
  }
  const deep = model(512, 1024, 8);
  t.equal(constant(conv2dForwardLaunches(deep).launches[0]!, 'TILE_K'), 16, '16 KiB: 128x128 tiles 16 deep');
  t.equal(constant(conv2dForwardLaunches(deep, { limits: lavapipeLimits }).launches[0]!, 'TILE_K'), 32, '32 KiB: 32 deep');
  t.equal(constant(conv2dForwardLaunches(deep, { limits: h100Limits }).launches[0]!, 'TILE_K'), 32, '48 KiB: still 32 deep');
});

t.test('naive launches have one invocation per output', async (t) => {
  for (const p of problems) {
    const { Ho, Wo } = conv2dOutputSize(p);
    const cases: Array<[KernelLaunch, number]> = [
      [conv2dNaiveForwardLaunch(p), p.N * p.Co * Ho * Wo],
      [conv2dNaiveBackwardInputLaunch(p), p.N * p.Ci * p.H * p.W],
      [conv2dNaiveBackwardWeightLaunch(p), p.Co * p.Ci * p.KH * p.KW],
    ];
    for (const [launch, outputs] of cases) {
      checkDispatchLimits(t, launch);
      const [x, , z] = launch.workgroups;
      t.ok(x * z * SPREAD_WORKGROUP_SIZE >= outputs && (x * (z - 1)) * SPREAD_WORKGROUP_SIZE < outputs, `${launch.kernel} ${launch.describe}`);
    }
  }
});

t.test('spreadWorkgroups keeps each dimension within 65535 and covers the count', async (t) => {
  for (const count of [1, 65535, 65536, 131071, 1 << 22, 65535 * 65535]) {
    const { x, z } = spreadWorkgroups(count);
    t.ok(x <= MAX_WORKGROUPS_PER_DIMENSION && z <= MAX_WORKGROUPS_PER_DIMENSION && x * z >= count && x * (z - 1) < count, `${count}`);
  }
});

t.test('tile configurations the shaders or the adapter cannot run are refused', async (t) => {
  const refused = (tiles: HardwareLaunchOptions['tiles'], limits?: KernelLimits) => () => conv2dForwardLaunches(odd[0]!, { tiles, limits });
  t.throws(refused({ tileM: 128, tileN: 128, tileK: 16, threadM: 4, threadN: 4 }), /1024 invocations exceed 256/);
  t.throws(refused({ tileM: 128, tileN: 128, tileK: 8, threadM: 4, threadN: 8 }), /512 invocations exceed 256/);
  t.doesNotThrow(refused({ tileM: 128, tileN: 128, tileK: 8, threadM: 4, threadN: 8 }, lavapipeLimits), '512 invocations where the adapter allows 1024');
  t.throws(refused({ tileM: 128, tileN: 128, tileK: 32, threadM: 8, threadN: 8 }), /32768 bytes of workgroup memory exceed 16384/);
  t.doesNotThrow(refused({ tileM: 128, tileN: 128, tileK: 32, threadM: 8, threadN: 8 }, lavapipeLimits), '32 KiB where the adapter has it');
  t.throws(refused({ tileM: 128, tileN: 128, tileK: 64, threadM: 8, threadN: 8 }, h100Limits), /65536 bytes of workgroup memory exceed 49152/);
  t.throws(refused({ tileM: 8, tileN: 128, tileK: 8, threadM: 8, threadN: 8 }), /not a multiple of tileN \/ 4/);
  t.throws(() => conv2dBackwardWeightLaunches(odd[0]!, { tiles: { tileM: 8, tileN: 8, tileK: 16, threadM: 4, threadN: 4 } }), /not a multiple of tileK/);
  t.throws(refused({ tileM: 64, tileN: 64, tileK: 8, threadM: 2, threadN: 8 }), /4 or 8/);
});

t.test('max pooling launches cover every output and every input', async (t) => {
  for (const p of [
    { N: 8, C: 64, H: 128, W: 128, KH: 2, KW: 2, stride: 2, pad: 0 },
    { N: 2, C: 3, H: 9, W: 11, KH: 3, KW: 3, stride: 2, pad: 1 },
    { N: 256, C: 64, H: 128, W: 128, KH: 2, KW: 2, stride: 2, pad: 0 },
  ]) {
    const { Ho, Wo } = maxPool2dOutputSize(p);
    const forward = maxPool2dForwardLaunch(p);
    const backward = maxPool2dBackwardLaunch(p);
    checkDispatchLimits(t, forward);
    checkDispatchLimits(t, backward);
    t.ok(forward.workgroups[0] * forward.workgroups[2] * SPREAD_WORKGROUP_SIZE >= p.N * p.C * Ho * Wo, forward.describe);
    t.ok(backward.workgroups[0] * backward.workgroups[2] * SPREAD_WORKGROUP_SIZE >= p.N * p.C * p.H * p.W, backward.describe);
  }
  t.same(maxPool2dOutputSize({ N: 1, C: 1, H: 9, W: 11, KH: 3, KW: 3, stride: 2, pad: 1 }), { Ho: 5, Wo: 6 });
  t.throws(() => maxPool2dForwardLaunch({ N: 1, C: 1, H: 9, W: 9, KH: 3, KW: 3, stride: 2, pad: 2 }), /kernel \/ 2/);
});

t.test('subgroup forward and input-gradient launches cover every pixel block and row band', async (t) => {
  for (const [Ci, Co, size] of vanillaLayers) {
    for (const pass of ['forward', 'input'] as const) {
      const p = model(Ci, Co, size);
      const launch = conv2dSubgroupLaunch(p, 8, pass)!;
      const u = launch.unroll!;
      const rows = pass === 'forward' ? Co : Ci;
      const pixels = u.PIX_ROWS! * 4 * u.PIX_VEC4S!;
      const blocks = (p.N * size * size) / pixels;
      const [x, y, z] = launch.workgroups;
      t.equal(u.WORKGROUP_SIZE! % 8, 0, `${pass} ${Ci}->${Co}: whole subgroups`);
      t.ok(x * z * u.WORKGROUP_SIZE! >= blocks && (x * z - 1) * u.WORKGROUP_SIZE! < blocks, `${pass} ${Ci}->${Co}: pixel blocks`);
      t.ok(y * 8 * u.ROWS_PER_LANE! >= rows && (y - 1) * 8 * u.ROWS_PER_LANE! < rows, `${pass} ${Ci}->${Co}: row bands`);
      if (rows > 8) t.equal(u.ROWS_PER_LANE! * pixels, pass === 'forward' && size > 4 ? 2 * 16 : 4 * 8, '64 vec4 accumulators per lane');
    }
  }
  const first = conv2dSubgroupLaunch(model(3, 64, 128), 8, 'input')!.unroll!;
  t.same([first.ROWS_PER_LANE, first.WEIGHT_VEC4], [1, 0], 'three input channels: one row per lane, scalar weights');
  t.equal(conv2dSubgroupLaunch(model(64, 128, 64), 8, 'input')!.unroll!.WEIGHT_VEC4, 1, 'vec4 weights for 4 rows a lane');
});

t.test('the subgroup kernel is chosen only where it applies', async (t) => {
  const lavapipe = { plan: 'software', subgroupSize: 8 } as const;
  t.equal(planConv2dForward(model(64, 128, 64), lavapipe).launches[0]!.kernel, 'conv2d_subgroup');
  t.equal(planConv2dBackwardInput(model(64, 128, 64), lavapipe).launches[0]!.kernel, 'conv2d_subgroup');
  t.equal(planConv2dBackwardInput(model(3, 64, 128), lavapipe).launches[0]!.kernel, 'conv2d_backward_input_narrow');
  t.equal(planConv2dBackwardWeight(model(64, 128, 64), lavapipe).launches[0]!.kernel, 'conv2d_backward_weight_subgroup');
  t.equal(planConv2dBackwardWeight(model(64, 128, 64), { plan: 'hardware' }).launches[0]!.kernel, 'conv2d_backward_weight');
  t.same(planConv2dForward(model(64, 128, 64), lavapipe).launches.map((l) => l.kernel), ['conv2d_subgroup'], 'the software plan never splits');
  t.same(planConv2dBackwardInput(model(64, 128, 64), lavapipe).launches.map((l) => l.kernel), ['conv2d_subgroup']);
  t.same(planConv2dForward(model(512, 1024, 8), { plan: 'hardware' }).launches.map((l) => l.kernel), ['conv2d_forward', 'conv2d_sum_splits']);
  t.same(planConv2dBackwardInput(model(512, 1024, 8), { plan: 'naive' }).launches.map((l) => l.kernel), ['conv2d_naive_backward_input']);
  t.equal(planConv2dForward(model(64, 128, 64), { plan: 'hardware', subgroupSize: 32 }).launches[0]!.kernel, 'conv2d_forward');
  t.equal(planConv2dBackwardInput(model(64, 128, 64), { plan: 'software' }).launches[0]!.kernel, 'conv2d_backward_input');
  for (const p of odd) t.equal(planConv2dForward(p, lavapipe).launches[0]!.kernel, 'conv2d_forward', `x[${p.N},${p.Ci},${p.H},${p.W}] ${p.KH}x${p.KW} s${p.stride}`);
  t.equal(conv2dSubgroupLaunch({ ...model(8, 8, 6), W: 10 }, 8, 'forward'), undefined, 'rows not a multiple of 4 wide');
  t.equal(conv2dSubgroupLaunch({ ...model(8, 8, 8), KH: 1, KW: 1, pad: 0 }, 8, 'forward'), undefined, '1x1');
});

t.test('the narrow forward takes the first layer: every pixel block once, every output channel', async (t) => {
  const lavapipe = { plan: 'software', subgroupSize: 8 } as const;
  const first = model(3, 64, 128);
  const launch = planConv2dForward(first, lavapipe).launches[0]!;
  t.equal(launch.kernel, 'conv2d_forward_narrow');
  const u = launch.unroll!;
  const [x, y, z] = launch.workgroups;
  const blocks = (first.N * first.H * first.W) / 16;
  t.ok(x * z * u.BLOCKS! >= blocks && (x * z - 1) * u.BLOCKS! < blocks, 'groups of blocks cover the images');
  t.equal(y * u.LANES! * u.CO_PER_LANE!, 64, 'one band of 64 output channels');
  t.equal(planConv2dForward(model(64, 128, 64), lavapipe).launches[0]!.kernel, 'conv2d_subgroup', 'wider inputs take the general kernel');
  t.equal(conv2dForwardNarrowLaunch({ ...first, W: 12 }, 8), undefined, 'rows a multiple of 8 wide');
  t.equal(conv2dForwardNarrowLaunch({ ...first, H: 7 }, 8), undefined, 'an even height');
});

t.test('the narrow input gradient takes the first layer: every pixel block once', async (t) => {
  const lavapipe = { plan: 'software', subgroupSize: 8 } as const;
  for (const [H, rows] of [[128, 4], [6, 2], [7, 1]] as const) {
    const p = { ...model(3, 64, 128), H };
    const launch = planConv2dBackwardInput(p, lavapipe).launches[0]!;
    t.equal(launch.kernel, 'conv2d_backward_input_narrow');
    const u = launch.unroll!;
    t.equal(u.PIX_ROWS, rows, `height ${H}: blocks of ${rows} rows`);
    const [x, y, z] = launch.workgroups;
    const blocks = (p.N * p.H * p.W) / (8 * rows);
    t.ok(x * z * u.WORKGROUP_SIZE! >= blocks && (x * z - 1) * u.WORKGROUP_SIZE! < blocks && y === 1, `height ${H}: workgroups cover the blocks`);
  }
  t.equal(conv2dBackwardInputNarrowLaunch({ ...model(3, 64, 128), W: 12 }, 8), undefined, 'rows a multiple of 8 wide');
  t.equal(conv2dBackwardInputNarrowLaunch(model(8, 64, 128), 8), undefined, 'at most 4 result channels');
  t.equal(conv2dBackwardInputNarrowLaunch(model(3, 64, 128), 4), undefined, 'subgroups of at least 8 (the halo rows take 8 loads)');
  t.equal(planConv2dBackwardInput(model(3, 64, 128), { plan: 'hardware', subgroupSize: 32 }).launches[0]!.kernel, 'conv2d_backward_input', 'hardware keeps the tiling');
});
