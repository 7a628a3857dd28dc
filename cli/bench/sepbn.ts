// node cli/bench.js sepbn: one SepBN layer at each of the model's six layer shapes (batch 8), the
// fused kernels (one statistics pass, one apply pass; one reduction, one apply backward) beside
// the same layer composed from primitive ops, forward and forward+backward, in the same run.
// Bandwidth counts the layer's unavoidable traffic: x read and y written forward; x, dy read and
// dx written backward.
import { backward } from '../../engine/autodiff.ts';
import { gpuRuntime, sync } from '../../engine/backend.ts';
import { normal, uniform } from '../../engine/create.ts';
import { sepBatchNormTrain, type SepBnWeights } from '../../engine/ops/sep-batch-norm/sep-batch-norm.ts';
import { scope } from '../../engine/scope.ts';
import { noGrad, type Tensor } from '../../engine/tensor.ts';
import { numberOption } from '../args.ts';
import { formatTable, type Benchmark } from './benchmark.ts';
import { chooseLayers } from './layer-shapes.ts';
import { describeKernelChoice } from '../../engine/webgpu/kernel-plan.ts';

async function secondsPer(run: () => void, minSeconds = 0.5): Promise<number> {
  scope(run);
  await sync();
  for (let repeats = 1; ; repeats *= 2) {
    const start = performance.now();
    for (let i = 0; i < repeats; i++) scope(run);
    await sync();
    const seconds = (performance.now() - start) / 1000;
    if (seconds >= minSeconds || repeats >= 256) return seconds / repeats;
  }
}

export const benchmark: Benchmark = {
  name: 'sepbn',
  summary: 'one SepBN layer (K=3) at the six model layer shapes (batch 8): fused kernels beside the composite of primitive ops, forward and backward',
  options: {
    batch: { type: 'string', value: 'N', default: '8', help: 'batch size' },
    layers: { type: 'string', value: 'LIST', help: 'comma-separated layer numbers (default: 1,2,3,4,5,6)' },
    json: { type: 'boolean', help: 'print JSON' },
  },
  async run(values) {
    const rt = gpuRuntime();
    const N = numberOption(values, 'batch') ?? 8;
    const results = [];
    for (const l of chooseLayers(values.layers)) {
      const C = l.outChannels;
      const hidden = Math.max(1, Math.floor(0.1 * C));
      const kept = (t: Tensor) => t.keep();
      const x = kept(normal([N, C, l.size, l.size], { seed: 1, requiresGrad: true }));
      const dy = kept(normal([N, C, l.size, l.size], { seed: 2 }));
      const w: SepBnWeights = {
        gammas: [0, 1, 2].map((k) => kept(uniform([C], 0.5, 1.5, { seed: 10 + k, requiresGrad: true }))),
        betas: [0, 1, 2].map((k) => kept(normal([C], { seed: 20 + k, requiresGrad: true }))),
        fc1: kept(normal([hidden, C, 1, 1], { seed: 30, requiresGrad: true })),
        fc2: kept(normal([3, hidden, 1, 1], { seed: 31, requiresGrad: true })),
      };
      const leaves = [x, ...w.gammas, ...w.betas, w.fc1, w.fc2];
      const options = { groups: 1, temperature: 2, leakySlope: 0.01 };
      const forward = (fused: boolean) => () => noGrad(() => sepBatchNormTrain(x, w, options, fused));
      const forwardBackward = (fused: boolean) => () => {
        backward(sepBatchNormTrain(x, w, options, fused).y, { grad: dy });
        for (const leaf of leaves) {
          leaf.grad?.dispose();
          leaf.grad = null;
        }
      };
      const bytes = N * C * l.size * l.size * 4;
      const row = { layer: l.layer, shape: `x[${N},${C},${l.size},${l.size}]`, fusedForwardMs: 0, compositeForwardMs: 0, fusedBackwardMs: 0, compositeBackwardMs: 0, fusedForwardGBps: 0, fusedBackwardGBps: 0 };
      row.fusedForwardMs = (await secondsPer(forward(true))) * 1e3;
      row.compositeForwardMs = (await secondsPer(forward(false))) * 1e3;
      row.fusedBackwardMs = (await secondsPer(forwardBackward(true))) * 1e3 - row.fusedForwardMs;
      row.compositeBackwardMs = (await secondsPer(forwardBackward(false))) * 1e3 - row.compositeForwardMs;
      row.fusedForwardGBps = (2 * bytes) / (row.fusedForwardMs / 1e3) / 1e9;
      row.fusedBackwardGBps = (3 * bytes) / (row.fusedBackwardMs / 1e3) / 1e9;
      results.push(row);
      for (const t of [dy, ...leaves]) t.dispose();
      process.stderr.write(`  layer ${l.layer} done\n`);
    }
    if (!values.json) {
      process.stdout.write(`adapter: ${rt.adapter.description || rt.adapter.device} (${rt.adapter.kind}; kernel plan ${describeKernelChoice(rt.kernels, rt.adapter)}); SepBN K=3, LeakyReLU fused, batch ${N}\n`);
      process.stdout.write(
        formatTable(
          ['layer', 'shape', 'fused fwd ms', 'GB/s', 'composite fwd ms', 'speed-up', 'fused bwd ms', 'GB/s', 'composite bwd ms', 'speed-up'],
          results.map((r) => [
            String(r.layer), r.shape,
            r.fusedForwardMs, r.fusedForwardGBps, r.compositeForwardMs, `${(r.compositeForwardMs / r.fusedForwardMs).toFixed(1)}x`,
            r.fusedBackwardMs, r.fusedBackwardGBps, r.compositeBackwardMs, `${(r.compositeBackwardMs / r.fusedBackwardMs).toFixed(1)}x`,
          ]),
        ),
      );
    }
    return { benchmark: 'sepbn', adapter: rt.adapter, kernelPlan: rt.kernels.plan, batch: N, results };
  },
};
