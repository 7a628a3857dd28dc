// node cli/bench.js conv: GFLOP/s of the convolution passes (forward, input gradient, weight
// gradient) at the model's six layer shapes, each beside the naive direct kernel timed in the
// same run, and beside the matmul at 2048^3 timed in alternation with the pass (a shared
// machine's speed drifts by tens of percent within a minute).
import { gpuRuntime } from '../../engine/backend.ts';
import { conv2dNaiveBackwardInputLaunch, conv2dNaiveBackwardWeightLaunch, conv2dNaiveForwardLaunch } from '../../engine/ops/conv2d/naive-launch.ts';
import type { Conv2dProblem } from '../../engine/ops/conv2d/problem.ts';
import { planConv2dBackwardInput, planConv2dBackwardWeight, planConv2dForward } from '../../engine/ops/conv2d/plan.ts';
import { planMatmul } from '../../engine/ops/matmul-launch.ts';
import { Random } from '../../engine/random.ts';
import type { KernelLaunch } from '../../engine/webgpu/launch.ts';
import type { WebGpuRuntime } from '../../engine/webgpu/runtime.ts';
import { numberOption } from '../args.ts';
import { bindPlan, formatTable, timeKernel, timeLaunches, type Benchmark, type Timed } from './benchmark.ts';
import { chooseLayers } from './layer-shapes.ts';
import { describeKernelChoice } from '../../engine/webgpu/kernel-plan.ts';

function randomBuffer(rt: WebGpuRuntime, floats: number, seed: number): GPUBuffer {
  const rng = new Random(seed);
  const buffer = rt.pool.acquire(floats * 4, 'bench');
  rt.upload(buffer, Float32Array.from({ length: floats }, () => rng.uniform(-1, 1)));
  return buffer;
}

const REFERENCE_SIDE = 2048;
/**
 * Seconds per run of a pass and of the reference matmul, timed in turn for `rounds` rounds; the
 * fastest round of each is the one least disturbed by the rest of the machine. Each timing spans at
 * least half a second (one 2048^3 matmul takes about that on lavapipe), so that neither side gets
 * more chances at a quiet moment than the other.
 */
async function timeBesideReference(rt: WebGpuRuntime, pass: Timed, reference: Timed, rounds: number): Promise<{ pass: number; reference: number }> {
  let best = { pass: Infinity, reference: Infinity };
  for (let round = 0; round < rounds; round++) {
    const warmUp = round === 0;
    best = {
      reference: Math.min(best.reference, await timeLaunches(rt, reference, 0.5, warmUp)),
      pass: Math.min(best.pass, await timeLaunches(rt, pass, 0.5, warmUp)),
    };
  }
  return best;
}

export const benchmark: Benchmark = {
  name: 'conv',
  summary: 'GFLOP/s of the tiled convolution passes at the six model layer shapes (batch 8), beside the naive direct kernels and the 2048^3 matmul',
  options: {
    batch: { type: 'string', value: 'N', default: '8', help: 'batch size' },
    layers: { type: 'string', value: 'LIST', help: 'comma-separated layer numbers (default: 1,2,3,4,5,6)' },
    rounds: { type: 'string', value: 'N', default: '5', help: 'alternate each pass with the reference matmul N times and keep the best of each' },
    json: { type: 'boolean', help: 'print JSON' },
  },
  async run(values) {
    const rt = gpuRuntime();
    const N = numberOption(values, 'batch') ?? 8;
    const rounds = numberOption(values, 'rounds') ?? 5;
    const results = [];
    const square = REFERENCE_SIDE * REFERENCE_SIDE;
    const referenceBuffers = [randomBuffer(rt, square, 5), randomBuffer(rt, square, 6), rt.pool.acquire(square * 4, 'bench reference c')];
    const reference = bindPlan(rt, planMatmul({ M: REFERENCE_SIDE, N: REFERENCE_SIDE, K: REFERENCE_SIDE }, rt.kernels),
      [referenceBuffers[0], referenceBuffers[1], rt.placeholder], referenceBuffers[2], referenceBuffers, [rt.placeholder]);
    for (const l of chooseLayers(values.layers)) {
      const p: Conv2dProblem = { N, Ci: l.inChannels, H: l.size, W: l.size, Co: l.outChannels, KH: 3, KW: 3, stride: 1, pad: 1, hasBias: true, activation: 'none', slope: 0 };
      const x = randomBuffer(rt, N * p.Ci * l.size * l.size, 1);
      const w = randomBuffer(rt, p.Co * p.Ci * 9, 2);
      const bias = randomBuffer(rt, p.Co, 3);
      const y = randomBuffer(rt, N * p.Co * l.size * l.size, 4);
      const dx = rt.pool.acquire(N * p.Ci * l.size * l.size * 4, 'bench dx');
      const dw = rt.pool.acquire(p.Co * p.Ci * 9 * 4, 'bench dw');
      const held = [x, w, bias, y, dx, dw];
      const passes: Array<{ pass: string; tiled: Timed; naive: [KernelLaunch, GPUBuffer[]] }> = [
        { pass: 'forward', tiled: bindPlan(rt, planConv2dForward(p, rt.kernels), [x, w, bias], y, held), naive: [conv2dNaiveForwardLaunch(p), [x, w, bias, y]] },
        { pass: 'grad input', tiled: bindPlan(rt, planConv2dBackwardInput(p, rt.kernels), [y, w], dx, held), naive: [conv2dNaiveBackwardInputLaunch(p), [y, w, dx]] },
        { pass: 'grad weight', tiled: bindPlan(rt, planConv2dBackwardWeight(p, rt.kernels), [x, y], dw, held), naive: [conv2dNaiveBackwardWeightLaunch(p), [x, y, dw]] },
      ];
      const flops = 2 * N * p.Co * p.Ci * 9 * l.size * l.size;
      for (const { pass, tiled, naive } of passes) {
        const best = await timeBesideReference(rt, tiled, reference, rounds);
        const tiledSeconds = best.pass;
        const matmulGflops = (2 * REFERENCE_SIDE ** 3) / best.reference / 1e9;
        const naiveSeconds = await timeKernel(rt, naive[0], naive[1], 0);
        results.push({
          layer: l.layer, pass, kernel: tiled.map(([launch]) => launch.kernel).join(' + '), shape: `x[${N},${p.Ci},${l.size},${l.size}] w[${p.Co},${p.Ci},3,3]`,
          tiledMs: tiledSeconds * 1e3, naiveMs: naiveSeconds * 1e3,
          tiledGflops: flops / tiledSeconds / 1e9, naiveGflops: flops / naiveSeconds / 1e9, speedup: naiveSeconds / tiledSeconds,
          matmulGflops, ofMatmul: flops / tiledSeconds / 1e9 / matmulGflops,
        });
        process.stderr.write(`  layer ${l.layer} ${pass}: ${(naiveSeconds / tiledSeconds).toFixed(1)}x\n`);
      }
      for (const b of held) rt.pool.release(b);
    }
    for (const b of referenceBuffers) rt.pool.release(b);
    if (!values.json) {
      process.stdout.write(`adapter: ${rt.adapter.description || rt.adapter.device} (${rt.adapter.kind}; kernel plan ${describeKernelChoice(rt.kernels, rt.adapter)}); 3x3 stride 1 pad 1 with bias, batch ${N}; ` +
        `each pass and the ${REFERENCE_SIDE}^3 matmul: best of ${rounds} alternating rounds\n`);
      process.stdout.write(
        formatTable(
          ['layer', 'pass', 'shape', 'kernel', 'tiled ms', 'tiled GFLOP/s', 'naive ms', 'naive GFLOP/s', 'speed-up', 'matmul GFLOP/s', 'of matmul'],
          results.map((r) => [String(r.layer), r.pass, r.shape, r.kernel, r.tiledMs, r.tiledGflops, r.naiveMs, r.naiveGflops, `${r.speedup.toFixed(1)}x`, r.matmulGflops, `${r.ofMatmul.toFixed(2)}x`]),
        ),
      );
    }
    return { benchmark: 'conv', adapter: rt.adapter, kernelPlan: rt.kernels.plan, batch: N, rounds, results };
  },
};
