import t, { type Test } from 'tap';
import { backward } from '../../../engine/autodiff.ts';
import { useBackend } from '../../../engine/backend.ts';
import { tensor } from '../../../engine/create.ts';
import { maxRelativeError } from '../../../engine/gradcheck.ts';
import { mixAffine, sepBatchNormTrain, type SepBnWeights } from '../../../engine/ops/sep-batch-norm/sep-batch-norm.ts';
import { sepBnFusedComparison, sepBnWalkthrough, WALKTHROUGH_DEFAULTS, type WalkStep, type WalkthroughOptions } from '../../../engine/ops/sep-batch-norm/walkthrough.ts';
import { scope } from '../../../engine/scope.ts';
import type { BackendName, Tensor } from '../../../engine/tensor.ts';
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
    const relative = maxRelativeError(s.values, cpu[i].values);
    t.ok(relative < 1e-5, `${s.name}: relative ${relative.toExponential(2)}`);
  });
});

// The walkthrough computes SepBN a third time, stage by stage, so nothing but these tests keeps it
// describing the layer that training runs: sepBatchNormTrain, fused and composite, from the
// walkthrough's own inputs, must give its attention, affine, statistics, output and gradients.
const SETTINGS: Array<Partial<WalkthroughOptions>> = [
  {}, // what `node cli/explain.js sepbn` prints
  { N: 3, C: 5, H: 3, W: 7, K: 2, hidden: 3, temperature: 0.7, seed: 11 },
  { N: 5, C: 3, H: 1, W: 3, K: 4, hidden: 1, temperature: 5, seed: 4 },
  // Several groups, and an input typed in (the page's controls).
  { N: 2, C: 6, H: 2, W: 3, K: 3, groups: 3, hidden: 2, temperature: 1.5, seed: 5, input: Array.from({ length: 72 }, (_, i) => Math.cos(i) * 2) },
];

function stepNamed(steps: WalkStep[], name: string): WalkStep {
  const step = steps.find((s) => s.name === name);
  if (!step) throw new Error(`the walkthrough has no step ${name}`);
  return step;
}

/** The op's numbers under the walkthrough's step names; the walkthrough's L = sum y · R makes dL/dy = R. */
async function throughOp(steps: WalkStep[], o: WalkthroughOptions, backend: BackendName, fused: boolean): Promise<Map<string, Float64Array>> {
  return scope(async () => {
    const leaf = (name: string, requiresGrad = true) => {
      const { values, shape } = stepNamed(steps, name);
      return tensor(values, shape, { backend, requiresGrad, label: name });
    };
    const sets = Array.from({ length: o.K }, (_, k) => k);
    const x = leaf('x');
    const w: SepBnWeights = { gammas: sets.map((k) => leaf(`gamma_${k}`)), betas: sets.map((k) => leaf(`beta_${k}`)), fc1: leaf('W1'), fc2: leaf('W2') };
    const out = sepBatchNormTrain(x, w, { groups: o.groups, temperature: o.temperature }, fused);
    backward(out.y, { grad: leaf('R', false) });
    const named: Array<[string, Tensor]> = [
      ['a', out.attention],
      // The op keeps gamma_nc and beta_nc internal; its own helper rebuilds them from its attention.
      ['gamma_nc', mixAffine(out.attention, w.gammas)],
      ['beta_nc', mixAffine(out.attention, w.betas)],
      ['mu', out.mean],
      ['var', out.variance],
      ['y', out.y],
      ['dL/dx', x.grad!],
      ['dL/dW1', w.fc1.grad!],
      ['dL/dW2', w.fc2.grad!],
      ...sets.map((k): [string, Tensor] => [`dL/dgamma_${k}`, w.gammas[k].grad!]),
      ...sets.map((k): [string, Tensor] => [`dL/dbeta_${k}`, w.betas[k].grad!]),
    ];
    return new Map(await Promise.all(named.map(async ([name, t]) => [name, Float64Array.from(await t.toArray())] as const)));
  });
}

async function compareToOp(t: Test, backend: BackendName, tolerance: number) {
  for (const settings of SETTINGS) {
    const o = { ...WALKTHROUGH_DEFAULTS, ...settings };
    const steps = await sepBnWalkthrough(backend, o);
    const setting = `N=${o.N} C=${o.C} H=${o.H} W=${o.W} K=${o.K} groups=${o.groups} hidden=${o.hidden} T=${o.temperature} seed=${o.seed}${o.input ? ' typed x' : ''}`;
    for (const fused of [true, false]) {
      for (const [name, op] of await throughOp(steps, o, backend, fused)) {
        const walked = stepNamed(steps, name).values;
        t.equal(op.length, walked.length, `${setting} ${name}: as many values`);
        const relative = maxRelativeError(op, walked);
        t.ok(relative < tolerance, `${setting} ${fused ? 'fused' : 'composite'} ${name}: relative ${relative.toExponential(2)} < ${tolerance}`);
      }
    }
  }
}

t.test('the walkthrough equals sepBatchNormTrain, forward and every gradient, on the CPU (Float64)', (t) => compareToOp(t, 'cpu', 1e-12));

t.test('the walkthrough equals sepBatchNormTrain on WebGPU to f32 rounding', async (t) => {
  if (!(await withGpu(t))) return;
  await useBackend('webgpu');
  await compareToOp(t, 'webgpu', 1e-5);
  await useBackend('cpu');
});

t.test('a typed input replaces x and nothing else', async (t) => {
  const drawn = await sepBnWalkthrough('cpu');
  const input = Array.from({ length: 72 }, (_, i) => i / 10 - 3.3);
  const typed = await sepBnWalkthrough('cpu', { input });
  t.same(Array.from(stepNamed(typed, 'x').values), input.map(Math.fround), 'x is the input, rounded to f32');
  for (const name of ['gamma_0', 'beta_2', 'W1', 'W2', 'R']) t.same(stepNamed(typed, name).values, stepNamed(drawn, name).values, `${name} is still the seed's`);
});

t.test('bad settings are named', async (t) => {
  await t.rejects(sepBnWalkthrough('cpu', { groups: 3 }), { message: 'walkthrough: C=4 channels do not split into groups=3 equal groups' });
  await t.rejects(sepBnWalkthrough('cpu', { input: [1, 2] }), { message: 'walkthrough: the input x [2,4,3,3] needs 72 values, got 2' });
  await t.rejects(sepBnWalkthrough('cpu', { input: Array.from({ length: 72 }, (_, i) => (i === 5 ? NaN : 0)) }), { message: 'walkthrough: input value 5 is NaN, not a finite number' });
  await t.rejects(sepBnWalkthrough('cpu', { temperature: 0 }), { message: 'walkthrough: the temperature must be above 0, got 0' });
  await t.rejects(sepBnWalkthrough('cpu', { K: 0 }), { message: 'walkthrough: K must be a positive integer, got 0' });
});

t.test('each backward step carries its finite differences', async (t) => {
  for (const s of (await sepBnWalkthrough('cpu')).filter((s) => s.phase === 'backward')) {
    const numeric = s.finiteDifference!;
    const gap = numeric.reduce((m, v, i) => Math.max(m, Math.abs(v - s.values[i])), 0);
    if (numeric.length !== s.values.length || gap !== s.finiteDifferenceError) t.fail(`${s.name}: ${numeric.length} finite differences, largest gap ${gap} against ${s.finiteDifferenceError}`);
  }
  t.pass('as many values as the gradient, and the error is their largest gap');
});

t.test('the fused comparison: the fused kernels equal the composite, and the composite equals the walkthrough', async (t) => {
  const settings = { groups: 2, temperature: 0.8, seed: 3 };
  const steps = await sepBnWalkthrough('cpu', settings);
  const pairs = await sepBnFusedComparison('cpu', settings);
  t.same(pairs.map((p) => p.name), ['a', 'mu', 'var', 'y', 'dL/dx', 'dL/dW1', 'dL/dW2', 'dL/dgamma_0', 'dL/dgamma_1', 'dL/dgamma_2', 'dL/dbeta_0', 'dL/dbeta_1', 'dL/dbeta_2']);
  for (const p of pairs) {
    t.ok(maxRelativeError(p.fused, p.composite) < 1e-12, `${p.name}: fused equals composite (max difference ${p.maxDifference.toExponential(2)})`);
    t.ok(maxRelativeError(p.composite, stepNamed(steps, p.name).values) < 1e-12, `${p.name}: as the walkthrough computes it`);
  }
});
