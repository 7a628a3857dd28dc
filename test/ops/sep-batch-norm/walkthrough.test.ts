import t from 'tap';
import { useBackend } from '../../../engine/backend.ts';
import { sepBnWalkthrough } from '../../../engine/ops/sep-batch-norm/walkthrough.ts';
import { withGpu } from '../../gpu.ts';

t.test('the SepBN walkthrough: every gradient matches finite differences at its intermediate', async (t) => {
  const steps = await sepBnWalkthrough('cpu');
  const backward = steps.filter((s) => s.phase === 'backward');
  t.same(
    steps.filter((s) => s.phase === 'forward').map((s) => s.name),
    ['p', 'u', 'v', 'z', 'a', 'gamma_nc', 'beta_nc', 'mu', 'xc', 'var', 'invstd', 'xhat', 'y', 'L'],
  );
  t.equal(backward[0].name, 'dL/dL', 'the tape starts at the loss');
  for (const name of ['dL/dx', 'dL/dW1', 'dL/dW2', 'dL/dgamma_0', 'dL/dbeta_2', 'dL/da', 'dL/dp']) t.ok(backward.some((s) => s.name === name), `${name} is shown`);
  for (const s of backward) t.ok(s.finiteDifferenceError! < 1e-7, `${s.name}: ${s.finiteDifferenceError!.toExponential(2)}`);
});

t.test('the GPU gives the same numbers', async (t) => {
  if (!(await withGpu(t))) return;
  const cpu = await sepBnWalkthrough('cpu');
  await useBackend('webgpu');
  const gpu = await sepBnWalkthrough('webgpu');
  await useBackend('cpu');
  gpu.forEach((s, i) => {
    const ref = cpu[i].values;
    const scale = Math.max(1e-12, ...Array.from(ref, Math.abs));
    const diff = s.values.reduce((m, v, j) => Math.max(m, Math.abs(v - ref[j])), 0);
    t.ok(diff / scale < 1e-5, `${s.name}: relative ${(diff / scale).toExponential(2)}`);
  });
});
