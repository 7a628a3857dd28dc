// A profiled training step: a Chrome trace Perfetto can open, every dispatch in it, and kernel
// times laid out as one queue runs them: one after another without overlap, all within the step's
// wall-clock time. These check order and containment, not how much of the GPU span the kernels
// fill, which shrinks on a loaded machine when the CPU feeds the queue late.
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
  const wallStart = performance.now();
  t.ok(startProfiling(), 'lavapipe offers timestamp queries');
  const loss = trainStep(model, optimizer, batch);
  const timings = await stopProfiling();
  const wallMs = performance.now() - wallStart;
  t.ok(Number.isFinite(await loss));
  t.equal(timings.length, gpuRuntime().dispatchCount - before, 'every dispatch of the step is in the profile');
  const trace = JSON.parse(JSON.stringify(chromeTrace(timings, 'test'))) as { traceEvents: Array<{ ph: string; ts: number; dur: number; name: string; args?: { op: string } }> };
  const events = trace.traceEvents.filter((e) => e.ph === 'X');
  t.equal(events.length, timings.length);
  t.ok(events.every((e) => Number.isFinite(e.ts) && e.dur >= 0 && typeof e.args?.op === 'string'), 'complete events with op names');
  const span = Math.max(...timings.map((r) => r.startMs + r.durationMs)) - Math.min(...timings.map((r) => r.startMs));
  const total = kernelTotals(timings).reduce((a, k) => a + k.totalMs, 0);
  // Timestamps are whole nanoseconds converted to milliseconds: 1e-6 ms of slack for the rounding.
  const ordered = [...timings].sort((a, b) => a.startMs - b.startMs);
  const overlapping = ordered.slice(1).filter((r, i) => r.startMs < ordered[i].startMs + ordered[i].durationMs - 1e-6);
  t.same(overlapping.map((r) => r.kernel), [], 'each kernel starts after the one before it ends');
  t.ok(total > 0 && total <= span + 1e-6 * timings.length, `kernel sum ${total.toFixed(1)} ms within the GPU span ${span.toFixed(1)} ms`);
  t.ok(span <= wallMs, `GPU span ${span.toFixed(1)} ms within the step's wall-clock ${wallMs.toFixed(1)} ms`);
  t.ok(kernelTotals(timings).some((k) => k.kernel === 'batch_norm_stats'), 'SepBN kernels appear');
  await useBackend('cpu');
});
