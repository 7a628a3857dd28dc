// The generic witness: every op in the registry, CPU against finite differences, then WebGPU
// against the CPU, forward and backward.
import t, { type Test } from 'tap';
import { checkAgainstFiniteDifferences, checkGpuAgainstCpu, type CheckRow } from '../../engine/gradcheck.ts';
import { registry } from '../../engine/ops/registry.ts';
import { withGpu } from '../gpu.ts';

function assertRows(t: Test, rows: CheckRow[]): void {
  t.ok(rows.length > 0, 'something was compared');
  for (const r of rows) t.ok(r.pass, `${r.check}: max error ${r.maxError.toExponential(2)} <= ${r.tolerance}`);
}

t.test('CPU gradients match central finite differences', async (t) => {
  for (const witness of registry) {
    for (const c of witness.cases) {
      await t.test(`${witness.op} ${c.label}`, async (t) => assertRows(t, await checkAgainstFiniteDifferences(witness.op, c)));
    }
  }
});

t.test('WebGPU forward and backward match the CPU', async (t) => {
  if (!(await withGpu(t))) return;
  for (const witness of registry) {
    for (const c of witness.cases) {
      await t.test(`${witness.op} ${c.label}`, async (t) => assertRows(t, await checkGpuAgainstCpu(witness.op, c)));
    }
  }
});
