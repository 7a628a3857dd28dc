// The optimizers' state arenas (nn/optim/state-arena.ts): a step of a model's parameters takes the
// dispatches the adapter's binding limit allows when each state arena is bound once a dispatch,
// and the arena changes no number: three steps with a parameter left without a gradient, a
// checkpoint load that leaves parameters at different step counts (one back at 0) equal one
// optimizer per parameter bit for bit, the Float64 reference to f32 rounding, and the same again
// with the state spread over many buffers because the binding limit is forced small.
import t, { type Test } from 'tap';
import { gpuRuntime, useBackend } from '../../engine/backend.ts';
import { tensor, zeros } from '../../engine/create.ts';
import { maxRelativeError } from '../../engine/gradcheck.ts';
import { Random } from '../../engine/random.ts';
import { scope } from '../../engine/scope.ts';
import type { BackendName, Tensor } from '../../engine/tensor.ts';
import { createOptimizer, type Optimizer, type OptimizerKind, type OptimizerOptions } from '../../nn/optim/optimizer.ts';
import { buildModel, modelConfig } from '../../models/registry.ts';
import { withGpu } from '../gpu.ts';

/** Odd sizes; more parameters than one dispatch of lavapipe's 16 bindings takes. */
const SIZES = [5, 300, 1, 1000, 70, 257, 3, 2000, 9, 64];
/** Left without a gradient at the first step, so it trails the others by one. */
const NO_GRAD_AT_FIRST = 2;
/** The steps the checkpoint load sets, per parameter name; 0 drops that parameter's state. */
const LOADED_STEPS: Record<string, number> = { p4: 7, p6: 0 };

const cases: Array<[OptimizerKind, OptimizerOptions]> = [
  ['adam', { lr: 0.01, weightDecay: 0.01 }],
  ['adamw', { lr: 0.01, weightDecay: 0.05, betas: [0.8, 0.99] }],
  ['sgd', { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 }],
];

function f32Values(rng: Random, n: number): number[] {
  return Array.from({ length: n }, () => Math.fround(rng.uniform(-1, 1)));
}

async function stateValues(optimizer: Optimizer): Promise<Map<string, number[]>> {
  return scope(async () => {
    const out = new Map<string, number[]>();
    for (const [name, x] of optimizer.stateTensors()) out.set(name, Array.from(await x.toArray()));
    return out;
  });
}

/**
 * Two steps, a save, a load with LOADED_STEPS applied, a third step; with `apart` each parameter
 * has an optimizer of its own. Returns every parameter and state value and
 * the dispatches of the third step.
 */
async function run(backend: BackendName, kind: OptimizerKind, options: OptimizerOptions, apart: boolean) {
  const rng = new Random(23);
  const params = SIZES.map((n, i): [string, Tensor] => [`p${i}`, tensor(f32Values(rng, n), [n], { backend, requiresGrad: true, label: `p${i}` }).keep()]);
  const grads = [0, 1, 2].map(() => SIZES.map((n) => f32Values(rng, n)));
  const groups = apart ? params.map((p) => [p]) : [params];
  let optimizers = groups.map((group) => createOptimizer(kind, group, options));
  const step = (k: number) => {
    const before = backend === 'webgpu' ? gpuRuntime().dispatchCount : 0;
    scope(() => {
      params.forEach(([, p], i) => {
        p.grad = k === 0 && i === NO_GRAD_AT_FIRST ? null : tensor(grads[k][i], p.shape, { backend });
      });
      for (const optimizer of optimizers) optimizer.step();
    });
    for (const [, p] of params) p.grad = null;
    return backend === 'webgpu' ? gpuRuntime().dispatchCount - before : 0;
  };
  step(0);
  step(1);
  const saved: Array<{ values: Map<string, number[]>; scalars: Record<string, number> }> = [];
  for (const optimizer of optimizers) saved.push({ values: await stateValues(optimizer), scalars: optimizer.stateScalars() });
  // One optimizer per parameter loads into fresh ones, whose state starts at zero; the others load
  // in place, so the parameter put back at step 0 must have its state zeroed to match.
  if (apart) {
    for (const optimizer of optimizers) optimizer.dispose();
    optimizers = groups.map((group) => createOptimizer(kind, group, options));
  }
  optimizers.forEach((optimizer, k) => {
    const values = new Map([...saved[k].values].map(([name, v]) => [name, Float64Array.from(v)]));
    const scalars = { ...saved[k].scalars };
    for (const [name] of groups[k]) {
      if (!(name in LOADED_STEPS)) continue;
      scalars[`${name}.step`] = LOADED_STEPS[name];
      if (LOADED_STEPS[name] === 0) for (const key of [...values.keys()]) if (key.startsWith(`${name}.`)) values.delete(key);
    }
    optimizer.loadState(values, scalars);
  });
  const dispatches = step(2);
  const result = new Map<string, number[]>();
  for (const [name, p] of params) result.set(name, Array.from(await p.toArray()));
  for (const optimizer of optimizers) for (const [name, v] of await stateValues(optimizer)) result.set(name, v);
  const steps = optimizers.map((o) => o.stateScalars());
  for (const optimizer of optimizers) optimizer.dispose();
  for (const [, p] of params) p.dispose();
  return { result, dispatches, steps };
}

function sorted(values: Map<string, number[]>): Array<[string, number[]]> {
  return [...values].sort(([a], [b]) => (a < b ? -1 : 1));
}

async function checkAgainstReferences(t: Test, label: string): Promise<number> {
  let dispatches = 0;
  for (const [kind, options] of cases) {
    const cpu = await run('cpu', kind, options, false);
    const together = await run('webgpu', kind, options, false);
    const apart = await run('webgpu', kind, options, true);
    const name = `${label}, ${kind} ${JSON.stringify(options)}`;
    t.same(sorted(together.result), sorted(apart.result), `${name}: bit for bit one optimizer per parameter`);
    const scalars = together.steps[0];
    const steps = SIZES.map((_, i) => scalars[`p${i}.step`] ?? scalars.step);
    t.same(steps, [3, 3, 2, 3, 8, 3, 1, 3, 3, 3], `${name}: each parameter's own step count`);
    t.same(sorted(together.result).map(([n]) => n), sorted(cpu.result).map(([n]) => n), `${name}: the same parameters and state as the CPU`);
    const error = Math.max(...[...cpu.result.keys()].map((k) => maxRelativeError(together.result.get(k)!, cpu.result.get(k)!)));
    t.ok(error <= 1e-6, `${name}: within ${error.toExponential(2)} relative of the Float64 reference`);
    dispatches += together.dispatches;
  }
  return dispatches;
}

t.test('WebGPU: state arenas', async (t) => {
  if (!(await withGpu(t))) return;
  await useBackend('webgpu');
  const rt = gpuRuntime();
  const limit = rt.adapter.limits.maxStorageBuffersPerShaderStage;

  await t.test("a model's step takes the dispatches the binding limit allows", async (t) => {
    for (const [model, kind, arenas] of [
      ['sepbn', 'adam', 2],
      ['sepbn', 'sgd', 1],
      ['baseline', 'adamw', 2],
    ] as const) {
      const net = buildModel(modelConfig(model, 16));
      const params = net.namedParameters();
      const optimizer = createOptimizer(kind, params, kind === 'sgd' ? { momentum: 0.9 } : {});
      const before = rt.dispatchCount;
      scope(() => {
        for (const [, p] of params) p.grad = zeros(p.shape, { backend: p.backend });
        optimizer.step();
      });
      const dispatches = rt.dispatchCount - before;
      for (const [, p] of params) p.grad = null;
      // Each dispatch binds the state arenas once, then a parameter and its gradient per parameter.
      const perDispatch = Math.min(16, Math.floor((limit - arenas) / 2));
      t.equal(dispatches, Math.ceil(params.length / perDispatch), `${model} width 16, ${kind}: ${params.length} parameters in ${dispatches} dispatches`);
      optimizer.dispose();
      for (const [, p] of params) p.dispose();
    }
  });

  let normalDispatches = 0;
  await t.test('three steps equal one optimizer per parameter and the Float64 reference', async (t) => {
    normalDispatches = await checkAgainstReferences(t, 'one buffer per state');
  });

  await t.test('with the binding limit forced to 1 KiB: parameters in pieces, state in many buffers', async (t) => {
    // Only the optimizers read this limit; the buffer pool keeps the real one.
    Object.defineProperty(rt, 'maxBindingBytes', { value: 1024, configurable: true });
    try {
      const forcedDispatches = await checkAgainstReferences(t, '1 KiB bindings');
      t.ok(forcedDispatches > normalDispatches, `the split takes more dispatches (${forcedDispatches} against ${normalDispatches})`);
    } finally {
      delete (rt as { maxBindingBytes?: number }).maxBindingBytes;
    }
    t.equal(rt.maxBindingBytes, rt.adapter.limits.maxStorageBufferBindingSize, 'the real limit is back');
  });

  await useBackend('cpu');
});
