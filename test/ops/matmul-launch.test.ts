import t, { type Test } from 'tap';
import {
  HARDWARE_BLOCKS, MATMUL_TILINGS, chooseMatmulTiling, hardwareTiling, matmulLaunch, matmulNaiveLaunch,
  matmulSumSplitsLaunch, planMatmul, type MatmulPlan, type MatmulProblem,
} from '../../engine/ops/matmul-launch.ts';
import { FILL_WORKGROUPS } from '../../engine/webgpu/grid.ts';
import { DEFAULT_KERNEL_LIMITS, type KernelChoice, type KernelLimits } from '../../engine/webgpu/kernel-plan.ts';
import type { KernelLaunch } from '../../engine/webgpu/launch.ts';
import { FULL_CHANNELS, FULL_HIDDEN, LANDMARKS } from '../../models/vanilla-cnn.ts';

const modelShapes: MatmulProblem[] = [
  { M: 8, K: 8192, N: 2048, transB: true, hasBias: true, activation: 'leaky_relu' }, // Linear forward
  { M: 8, K: 2048, N: 8192 }, // its input gradient
  { M: 8192, K: 8, N: 2048, transA: true }, // its weight gradient
  { M: 2048, K: 2048, N: 2048 },
];
const oddShapes: MatmulProblem[] = [
  { M: 1, K: 1, N: 1 },
  { M: 7, K: 5, N: 13, batch: 3 },
  { M: 65, K: 129, N: 33, transA: true, transB: true },
  { M: 9, K: 3, N: 257 },
];

t.test('the workgroups cover every output of C, with less than one tile to spare', async (t) => {
  for (const p of [...modelShapes, ...oddShapes]) {
    const tiling = chooseMatmulTiling(p);
    const tileM = tiling.workgroupRows * tiling.rowsPerInvocation;
    const tileN = tiling.workgroupCols * tiling.colsPerInvocation;
    const [x, y, z] = matmulLaunch(p).workgroups;
    t.ok(x * tileN >= p.N && (x - 1) * tileN < p.N, `columns of ${p.M}x${p.N}`);
    t.ok(y * tileM >= p.M && (y - 1) * tileM < p.M, `rows of ${p.M}x${p.N}`);
    t.equal(z, p.batch ?? 1);
    const [nx, ny, nz] = matmulNaiveLaunch(p).workgroups;
    const side = matmulNaiveLaunch(p).constants!.WORKGROUP_COLS!;
    t.ok(nx * side >= p.N && ny * side >= p.M && nz === (p.batch ?? 1), `naive covers ${p.M}x${p.N}`);
  }
});

t.test('the uniforms follow the order of the MatmulParams struct', async (t) => {
  const p: MatmulProblem = {
    M: 3, N: 5, K: 7, batch: 2, transA: true, transB: false, hasBias: true, activation: 'leaky_relu', slope: 0.25,
    aBatchStride: 30, bBatchStride: 0, cBatchStride: 17,
  };
  const uniforms = matmulLaunch(p).uniforms;
  const u32 = new Uint32Array(uniforms);
  t.same([...u32.slice(0, 7)], [3, 5, 7, 1, 0, 1, 1], 'M N K transA transB hasBias activation');
  t.equal(new Float32Array(uniforms)[7], 0.25, 'slope');
  t.same([...u32.slice(8, 11)], [30, 0, 17], 'batch strides');
  t.same(new Uint8Array(matmulNaiveLaunch(p).uniforms), new Uint8Array(uniforms), 'the naive kernel reads the same struct');
});

t.test('defaults: dense batch strides, no transposes, no bias, PyTorch slope', async (t) => {
  const u32 = new Uint32Array(matmulLaunch({ M: 4, N: 6, K: 5 }).uniforms);
  const f32 = new Float32Array(u32.buffer);
  t.same([...u32.slice(3, 7)], [0, 0, 0, 0]);
  t.equal(f32[7], Math.fround(0.01));
  t.same([...u32.slice(8, 11)], [20, 30, 24]);
});

t.test('the launch names the kernel, its bindings and its shapes', async (t) => {
  const launch = matmulLaunch(modelShapes[0]!);
  t.equal(launch.kernel, 'matmul');
  t.same(launch.access, ['read', 'read', 'read', 'read_write']);
  t.match(launch.describe, /a\[8,8192\] b\[2048,8192\]ᵀ bias\[2048\] -> c\[1,8,2048\]/);
  t.match(launch.describe, /skinny/);
  t.match(matmulLaunch(modelShapes[2]!).describe, /shallow/);
  t.match(matmulLaunch(modelShapes[3]!).describe, /square \(128x128x16\)/);
  const square = matmulLaunch(modelShapes[3]!).constants!;
  t.same([square.ROWS_PER_INVOCATION, square.COLS_PER_INVOCATION], [16, 16], 'the square tiling takes 16 x 16 register blocks');
  t.equal(matmulNaiveLaunch(modelShapes[0]!).kernel, 'matmul_naive');
});

t.test('every tiling fits the portable limits', async (t) => {
  const hardware = HARDWARE_BLOCKS.flatMap((block) => [8, 64].map((K) => hardwareTiling(block, K)));
  for (const tiling of [...Object.values(MATMUL_TILINGS), ...hardware]) {
    const tileM = tiling.workgroupRows * tiling.rowsPerInvocation;
    const tileN = tiling.workgroupCols * tiling.colsPerInvocation;
    t.ok(tiling.workgroupCols * tiling.workgroupRows <= 256, `${tiling.name}: invocations`);
    t.ok(4 * tiling.tileK * (tileM + (tiling.stageB ? tileN : 0)) <= 16384, `${tiling.name}: workgroup memory`);
    const c = matmulLaunch({ M: 64, N: 64, K: 64 }, tiling).constants!;
    t.same(
      [c.WORKGROUP_COLS, c.WORKGROUP_ROWS, c.ROWS_PER_INVOCATION, c.COLS_PER_INVOCATION, c.TILE_K, c.STAGE_B],
      [tiling.workgroupCols, tiling.workgroupRows, tiling.rowsPerInvocation, tiling.colsPerInvocation, tiling.tileK, tiling.stageB ? 1 : 0],
    );
  }
});

t.test('shapes the kernels cannot take are refused with the reason', async (t) => {
  t.throws(() => matmulLaunch({ M: 0, N: 4, K: 4 }), /M is 0/);
  t.throws(() => matmulLaunch({ M: 4, N: 4, K: 2.5 }), /K is 2.5/);
  t.throws(() => matmulLaunch({ M: 4, N: 4, K: 4, batch: 70000 }), /70000 workgroups along z.*split the batch/);
  t.throws(() => matmulNaiveLaunch({ M: 16 * 65536, N: 1, K: 1 }), /along y/);
  t.throws(() => matmulLaunch({ M: 4, N: 4, K: 4 }, { ...MATMUL_TILINGS.square, workgroupCols: 32, workgroupRows: 16 }), /256 invocations/);
  t.throws(() => matmulLaunch({ M: 4, N: 4, K: 4 }, { ...MATMUL_TILINGS.square, rowsPerInvocation: 32 }), /rowsPerInvocation/);
});

t.test('on a CPU rasteriser with subgroups, vec4-aligned problems take the subgroup kernel', async (t) => {
  const lavapipe = { plan: 'software', subgroupSize: 8 } as const;
  for (const p of modelShapes) {
    const launch = planMatmul(p, lavapipe).launches[0]!;
    t.equal(launch.kernel, 'matmul_subgroup', launch.describe);
    const rows = 8 * launch.unroll!.ROWS_PER_LANE!;
    const cols = launch.unroll!.WORKGROUP_SIZE! * launch.unroll!.COL_VEC4S! * 4;
    const [x, y] = launch.workgroups;
    t.ok(x * cols >= p.N && (x - 1) * cols < p.N && y * rows >= p.M && (y - 1) * rows < p.M, `covers ${p.M}x${p.N}`);
  }
  t.equal(planMatmul({ M: 8, K: 8192, N: 2048 }, lavapipe).launches[0]!.unroll!.ROWS_PER_LANE, 1, 'one row per lane for a batch of 8');
  t.equal(planMatmul({ M: 12, K: 8, N: 20 }, lavapipe).launches[0]!.unroll!.ROWS_PER_LANE, 2);
  t.equal(planMatmul({ M: 8, K: 8, N: 20, transA: true }, lavapipe).launches[0]!.unroll!.ROWS_PER_LANE, 4, 'A stored [K,M] is loaded 4 rows at a time');
  for (const p of oddShapes) t.equal(planMatmul(p, lavapipe).launches[0]!.kernel, 'matmul', `${p.M}x${p.K}x${p.N} is not vec4-aligned`);
  t.equal(planMatmul({ M: 8, K: 6, N: 8 }, lavapipe).launches[0]!.kernel, 'matmul', 'K not a multiple of 4 with A stored [M,K]');
  t.equal(planMatmul({ M: 8, K: 6, N: 8, transA: true }, lavapipe).launches[0]!.kernel, 'matmul_subgroup', 'but fine with A stored [K,M]');
  t.equal(planMatmul(modelShapes[3]!, { plan: 'hardware', subgroupSize: 32 }).launches[0]!.kernel, 'matmul', 'hardware keeps workgroup-memory tiles');
  t.equal(planMatmul(modelShapes[3]!, { plan: 'software' }).launches[0]!.kernel, 'matmul', 'no subgroups, no subgroup kernel');
});

const HARDWARE: KernelChoice = { plan: 'hardware' };

/** Output rows and columns one workgroup of a launch of matmul or matmul_skinny covers, and its invocations. */
function tileOf(launch: KernelLaunch): { tileM: number; tileN: number; invocations: number } {
  const c = launch.constants!;
  if (launch.kernel === 'matmul_skinny') return { tileM: 8, tileN: 4 * c.COL_QUADS!, invocations: c.K_LANES! * c.COL_QUADS! };
  return { tileM: c.WORKGROUP_ROWS! * c.ROWS_PER_INVOCATION!, tileN: c.WORKGROUP_COLS! * c.COLS_PER_INVOCATION!, invocations: c.WORKGROUP_COLS! * c.WORKGROUP_ROWS! };
}

const product = (counts: number[]) => counts.reduce((a, b) => a * b, 1);

/** Checks a hardware plan covers C and K exactly once and fits the grid and the scratch cap. */
function checkPlan(t: Test, p: MatmulProblem, plan: MatmulPlan, limits: KernelLimits = DEFAULT_KERNEL_LIMITS): void {
  const batch = p.batch ?? 1;
  const label = plan.launches[0]!.describe;
  const [x, y, z] = plan.launches[0]!.workgroups;
  const { tileM, tileN } = tileOf(plan.launches[0]!);
  t.ok(x * tileN >= p.N && (x - 1) * tileN < p.N, `columns: ${label}`);
  t.ok(y * tileM >= p.M && (y - 1) * tileM < p.M, `rows: ${label}`);
  t.equal(z, batch * plan.splits, `z is batch x splits: ${label}`);
  t.ok(plan.splits * plan.splitLength >= p.K && (plan.splits - 1) * plan.splitLength < p.K, `the splits cover K once: ${label}`);
  for (const launch of plan.launches) t.ok(launch.workgroups.every((n) => n >= 1 && n <= 65535), `${launch.workgroups} within 65535: ${launch.describe}`);
  if (plan.splits === 1) {
    t.equal(plan.launches.length, 1, `one launch without a split: ${label}`);
    t.equal(plan.scratchFloats, 0);
    return;
  }
  t.equal(plan.launches.length, 2, `partials, then their sum: ${label}`);
  t.equal(plan.scratchFloats, plan.splits * batch * p.M * p.N, 'scratch [splits, batch, M, N]');
  t.ok(4 * plan.scratchFloats <= limits.maxStorageBufferBindingSize, 'the scratch binds whole');
  const sum = plan.launches[1]!;
  t.equal(sum.kernel, 'matmul_sum_splits');
  t.ok(product(sum.workgroups) * 256 >= batch * p.M * p.N, 'the sum covers every element of C');
}

/** fc1 and fc2 of the full network: forward x·Wᵀ, input gradient g·W, weight gradient gᵀ·x. */
function fullyConnectedPasses(batch: number): Array<{ label: string; problem: MatmulProblem }> {
  const layers = [['fc1', FULL_CHANNELS[FULL_CHANNELS.length - 1]! * 4, FULL_HIDDEN], ['fc2', FULL_HIDDEN, 2 * LANDMARKS]] as const;
  return layers.flatMap(([name, inputs, outputs]) => [
    { label: `${name} forward at batch ${batch}`, problem: { M: batch, K: inputs, N: outputs, transB: true, hasBias: true } },
    { label: `${name} input gradient at batch ${batch}`, problem: { M: batch, K: outputs, N: inputs } },
    { label: `${name} weight gradient at batch ${batch}`, problem: { M: outputs, K: batch, N: inputs, transA: true } },
  ]);
}

const adapters: Array<[string, KernelLimits]> = [
  ['WebGPU defaults', DEFAULT_KERNEL_LIMITS],
  ['32 KiB of workgroup memory', { ...DEFAULT_KERNEL_LIMITS, maxComputeWorkgroupStorageSize: 32768 }],
];

t.test('the hardware plan keeps a large GPU full on the fully connected passes at batch 8 and 64', async (t) => {
  for (const [adapter, limits] of adapters) {
    for (const batch of [8, 64]) {
      for (const { label, problem } of fullyConnectedPasses(batch)) {
        const plan = planMatmul(problem, { plan: 'hardware', limits });
        const first = plan.launches[0]!;
        const { invocations } = tileOf(first);
        const workgroups = product(first.workgroups);
        const least = problem.M <= 8 ? 128 : 64;
        t.ok(workgroups >= FILL_WORKGROUPS && invocations >= least,
          `${label} (${adapter}): ${workgroups} workgroups of ${invocations} invocations (${first.describe})`);
        checkPlan(t, problem, plan, limits);
      }
    }
  }
  const fc1Forward = fullyConnectedPasses(8)[0]!.problem;
  t.equal(planMatmul(fc1Forward, HARDWARE).launches[0]!.kernel, 'matmul_skinny', 'M <= 8 takes the skinny kernel');
  t.ok(planMatmul(fc1Forward, HARDWARE).splits > 1, 'and splits K where its tiles are too few');
  const fc1WeightGradient = fullyConnectedPasses(8)[2]!.problem;
  t.equal(planMatmul(fc1WeightGradient, HARDWARE).splits, 1, 'K = 8: the weight gradient fills the GPU with its output tiles');
});

t.test('hardware plans cover every output and all of K, at the model shapes and odd ones', async (t) => {
  const shapes: MatmulProblem[] = [
    ...[1, 2, 8, 64].flatMap((batch) => fullyConnectedPasses(batch).map((pass) => pass.problem)),
    ...modelShapes,
    ...oddShapes,
    { M: 3, K: 300, N: 20, transB: true, hasBias: true },
    { M: 20, K: 150, N: 12, batch: 2 },
    { M: 5, K: 1000, N: 7, batch: 3, transA: true, aBatchStride: 5000, bBatchStride: 0, cBatchStride: 40 },
  ];
  for (const [, limits] of adapters) for (const p of shapes) checkPlan(t, p, planMatmul(p, { plan: 'hardware', limits }), limits);
});

t.test('split-K only where the output tiles are too few, and within the grid and the scratch cap', async (t) => {
  const many = { M: 8, K: 8192, N: 2048, transB: true, batch: 64 };
  t.equal(planMatmul(many, HARDWARE).splits, 1, 'a batch of 64 skinny matrices already gives 64 x 128 workgroups');
  t.equal(planMatmul({ M: 8, K: 8192, N: 2048, transB: true, batch: 2 }, HARDWARE).splits, 2, 'a batch of 2 needs 2 splits');
  t.equal(planMatmul({ M: 8, K: 6, N: 20 }, HARDWARE).splits, 1, 'a K too short to split');
  const capped = { ...DEFAULT_KERNEL_LIMITS, maxStorageBufferBindingSize: 3 * 4 * 8 * 2048 };
  const plan = planMatmul({ M: 8, K: 8192, N: 2048, transB: true }, { plan: 'hardware', limits: capped });
  t.equal(plan.splits, 3, 'a scratch cap of 3 partial products gives 3 splits');
  checkPlan(t, { M: 8, K: 8192, N: 2048, transB: true }, plan, capped);
  const tooBig = { ...DEFAULT_KERNEL_LIMITS, maxStorageBufferBindingSize: 4 * 8 * 2048 };
  t.equal(planMatmul({ M: 8, K: 8192, N: 2048, transB: true }, { plan: 'hardware', limits: tooBig }).splits, 1, 'no room for two partial products: no split');
});

t.test('tilings follow the adapter: 32 KiB of workgroup memory stages k steps of 32', async (t) => {
  const square = { M: 2048, K: 2048, N: 8192 };
  t.match(planMatmul(square, HARDWARE).launches[0]!.describe, /square-hardware \(128x128x16\)/);
  t.match(planMatmul(square, { plan: 'hardware', limits: adapters[1]![1] }).launches[0]!.describe, /square-hardware \(128x128x32\)/);
  t.match(planMatmul({ M: 2048, K: 8, N: 8192, transA: true }, HARDWARE).launches[0]!.describe, /128x128x8\)/, 'K = 8 is one k step of 8');
  t.throws(() => matmulLaunch(square, hardwareTiling(HARDWARE_BLOCKS[0], 2048, adapters[1]![1])), /16384/, 'not on the defaults');
  t.throws(
    () => matmulLaunch(square, MATMUL_TILINGS.square, undefined, { ...DEFAULT_KERNEL_LIMITS, maxComputeInvocationsPerWorkgroup: 32 }),
    /at most 32 invocations/,
  );
});

t.test('the software and naive plans never split', async (t) => {
  for (const kernels of [{ plan: 'software', subgroupSize: 8 }, { plan: 'software' }, { plan: 'naive' }] as const) {
    for (const p of [...modelShapes, ...oddShapes]) {
      const plan = planMatmul(p, kernels);
      t.equal(plan.launches.length, 1, `${kernels.plan}: ${plan.launches[0]!.describe}`);
      t.equal(plan.scratchFloats, 0);
      t.equal(plan.splits, 1);
    }
  }
});

t.test('the sum of the splits adds the bias once and applies the activation, from a struct of its own', async (t) => {
  const p: MatmulProblem = { M: 3, N: 5, K: 700, batch: 2, hasBias: true, activation: 'leaky_relu', slope: 0.5, cBatchStride: 17 };
  const launch = matmulSumSplitsLaunch(p, 4);
  t.same(launch.access, ['read', 'read', 'read_write'], 'partials, bias, c');
  const u32 = new Uint32Array(launch.uniforms);
  t.same([...u32.slice(0, 6)], [30, 15, 5, 4, 1, 1], 'count matrixSize N splits hasBias activation');
  t.equal(new Float32Array(launch.uniforms)[6], 0.5, 'slope');
  t.same([...u32.slice(7, 9)], [17, launch.workgroups[0] * 256], 'cBatchStride rowStride');
  const split = new Uint32Array(matmulLaunch(p, MATMUL_TILINGS.square, { splits: 4, splitLength: 176 }).uniforms);
  t.same([...split.slice(11, 14)], [2, 176, 4], 'the partial products get batch, splitLength, splits');
});
