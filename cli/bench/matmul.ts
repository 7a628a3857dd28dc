// node cli/bench.js matmul: GFLOP/s of the tiled matmul at the model's shapes, each beside the
// naive one-output-per-invocation kernel timed in the same run (the machine is shared, so only
// the ratio is meaningful across runs).
import { gpuRuntime } from '../../engine/backend.ts';
import { matmulNaiveLaunch, planMatmul, type MatmulProblem } from '../../engine/ops/matmul-launch.ts';
import { Random } from '../../engine/random.ts';
import { bindPlan, formatTable, timeKernel, timeLaunches, type Benchmark } from './benchmark.ts';
import { describeKernelChoice } from '../../engine/webgpu/kernel-plan.ts';

interface Shape {
  name: string;
  problem: MatmulProblem;
}

/** fc1 of the full model at batch 8 (x[8,8192] · W[2048,8192]ᵀ), its two gradients, and a square GEMM. */
function shapes(quick: boolean): Shape[] {
  const side = quick ? 512 : 2048;
  return [
    { name: 'fc1 forward x·Wᵀ', problem: { M: 8, K: 8192, N: 2048, transB: true, hasBias: true } },
    { name: 'fc1 grad input G·W', problem: { M: 8, K: 2048, N: 8192 } },
    { name: 'fc1 grad weight Gᵀ·x', problem: { M: 2048, K: 8, N: 8192, transA: true } },
    { name: `square ${side}^3`, problem: { M: side, K: side, N: side } },
  ];
}

function randomBuffer(floats: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: floats }, () => rng.uniform(-1, 1));
}

export const benchmark: Benchmark = {
  name: 'matmul',
  summary: 'GFLOP/s of the tiled matmul at the model shapes (batch 8) and at 2048^3, beside the naive kernel in the same run',
  options: {
    quick: { type: 'boolean', help: 'a 512^3 square instead of 2048^3 (seconds instead of a minute on lavapipe)' },
    json: { type: 'boolean', help: 'print JSON' },
  },
  async run(values) {
    const rt = gpuRuntime();
    const results = [];
    for (const { name, problem } of shapes(values.quick === true)) {
      const { M, N, K } = problem;
      const a = rt.pool.acquire(M * K * 4, 'bench a');
      const b = rt.pool.acquire(K * N * 4, 'bench b');
      const bias = rt.pool.acquire(N * 4, 'bench bias');
      const c = rt.pool.acquire(M * N * 4, 'bench c');
      rt.upload(a, randomBuffer(M * K, 1));
      rt.upload(b, randomBuffer(K * N, 2));
      rt.upload(bias, randomBuffer(N, 3));
      const held = [a, b, bias, c];
      const plan = bindPlan(rt, planMatmul(problem, rt.kernels), [a, b, bias], c, held, [bias]);
      const tiled = await timeLaunches(rt, plan, 0.5, true);
      // The naive kernel at 2048^3 takes tens of seconds: time it once.
      const naive = await timeKernel(rt, matmulNaiveLaunch(problem), [a, b, bias, c], 0);
      for (const buffer of held) rt.pool.release(buffer);
      const flops = 2 * M * N * K;
      const bytes = 4 * (M * K + K * N + M * N);
      results.push({
        shape: name, M, N, K,
        kernel: plan.map(([launch]) => launch.kernel).join(' + '),
        tiledMs: tiled * 1e3, naiveMs: naive * 1e3,
        tiledGflops: flops / tiled / 1e9, naiveGflops: flops / naive / 1e9,
        tiledGBps: bytes / tiled / 1e9,
        speedup: naive / tiled,
      });
      process.stderr.write(`  ${name}: done\n`);
    }
    if (!values.json) {
      process.stdout.write(`adapter: ${rt.adapter.description || rt.adapter.device} (${rt.adapter.kind}; kernel plan ${describeKernelChoice(rt.kernels, rt.adapter)})\n`);
      process.stdout.write(
        formatTable(
          ['shape', 'M', 'N', 'K', 'kernel', 'tiled ms', 'tiled GFLOP/s', 'tiled GB/s', 'naive ms', 'naive GFLOP/s', 'speed-up'],
          results.map((r) => [r.shape, r.M, r.N, r.K, r.kernel, r.tiledMs, r.tiledGflops, r.tiledGBps, r.naiveMs, r.naiveGflops, `${r.speedup.toFixed(1)}x`]),
        ),
      );
    }
    return { benchmark: 'matmul', adapter: rt.adapter, kernelPlan: rt.kernels.plan, results };
  },
};
