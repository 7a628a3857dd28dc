import t from 'tap';
import { MATMUL_TILINGS, chooseMatmulTiling, matmulLaunch, matmulNaiveLaunch, planMatmul, type MatmulProblem } from '../../engine/ops/matmul-launch.ts';

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
  for (const tiling of Object.values(MATMUL_TILINGS)) {
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
    const launch = planMatmul(p, lavapipe);
    t.equal(launch.kernel, 'matmul_subgroup', launch.describe);
    const rows = 8 * launch.unroll!.ROWS_PER_LANE!;
    const cols = launch.unroll!.WORKGROUP_SIZE! * launch.unroll!.COL_VEC4S! * 4;
    const [x, y] = launch.workgroups;
    t.ok(x * cols >= p.N && (x - 1) * cols < p.N && y * rows >= p.M && (y - 1) * rows < p.M, `covers ${p.M}x${p.N}`);
  }
  t.equal(planMatmul({ M: 8, K: 8192, N: 2048 }, lavapipe).unroll!.ROWS_PER_LANE, 1, 'one row per lane for a batch of 8');
  t.equal(planMatmul({ M: 12, K: 8, N: 20 }, lavapipe).unroll!.ROWS_PER_LANE, 2);
  t.equal(planMatmul({ M: 8, K: 8, N: 20, transA: true }, lavapipe).unroll!.ROWS_PER_LANE, 4, 'A stored [K,M] is loaded 4 rows at a time');
  for (const p of oddShapes) t.equal(planMatmul(p, lavapipe).kernel, 'matmul', `${p.M}x${p.K}x${p.N} is not vec4-aligned`);
  t.equal(planMatmul({ M: 8, K: 6, N: 8 }, lavapipe).kernel, 'matmul', 'K not a multiple of 4 with A stored [M,K]');
  t.equal(planMatmul({ M: 8, K: 6, N: 8, transA: true }, lavapipe).kernel, 'matmul_subgroup', 'but fine with A stored [K,M]');
  t.equal(planMatmul(modelShapes[3]!, { plan: 'hardware', subgroupSize: 32 }).kernel, 'matmul', 'hardware keeps workgroup-memory tiles');
  t.equal(planMatmul(modelShapes[3]!, { plan: 'software' }).kernel, 'matmul', 'no subgroups, no subgroup kernel');
});
