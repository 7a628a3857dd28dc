// A profiled training step: a Chrome trace Perfetto can open, every dispatch in it, and kernel
// times that add up to the step's GPU time (first timestamp to last) within 10 %.
import t from 'tap';
import { gpuRuntime, startProfiling, stopProfiling, useBackend } from '../../../engine/backend.ts';
import { chromeTrace, kernelTotals } from '../../../engine/webgpu/profiler.ts';
import { buildModel, modelConfig } from '../../../models/registry.ts';
import { trainStep } from '../../../models/trainer.ts';
import { createOptimizer } from '../../../nn/optim/optimizer.ts';
import { withGpu } from '../../gpu.ts';

t.test('profile of a SepBN training step', async (t) => {
  if (!(await withGpu(t))) return;
  await useBackend('webgpu');
  const model = buildModel(modelConfig('sepbn', 32, 1));
  const optimizer = createOptimizer('adam', model.namedParameters());
  const batch = { images: new Float32Array(2 * 3 * 128 * 128).fill(0.1), landmarks: new Float32Array(2 * 196).fill(64) };
  await trainStep(model, optimizer, batch);
  const before = gpuRuntime().dispatchCount;
  t.ok(startProfiling(), 'lavapipe offers timestamp queries');
  const loss = trainStep(model, optimizer, batch);
  const timings = await stopProfiling();
  t.ok(Number.isFinite(await loss));
  t.equal(timings.length, gpuRuntime().dispatchCount - before, 'every dispatch of the step is in the profile');
  const trace = JSON.parse(JSON.stringify(chromeTrace(timings, 'test'))) as { traceEvents: Array<{ ph: string; ts: number; dur: number; name: string; args?: { op: string } }> };
  const events = trace.traceEvents.filter((e) => e.ph === 'X');
  t.equal(events.length, timings.length);
  t.ok(events.every((e) => Number.isFinite(e.ts) && e.dur >= 0 && typeof e.args?.op === 'string'), 'complete events with op names');
  const span = Math.max(...timings.map((r) => r.startMs + r.durationMs)) - Math.min(...timings.map((r) => r.startMs));
  const total = kernelTotals(timings).reduce((a, k) => a + k.totalMs, 0);
  t.ok(Math.abs(total - span) <= 0.1 * span, `kernel sum ${total.toFixed(1)} ms vs GPU span ${span.toFixed(1)} ms`);
  t.ok(kernelTotals(timings).some((k) => k.kernel === 'batch_norm_stats'), 'SepBN kernels appear');
  await useBackend('cpu');
});
