// The optimizers' multi-tensor GPU step: many parameters a dispatch (as many as the adapter
// binds: each state arena once, then a parameter and its gradient per chunk), parameters at
// different step counts in separate dispatches, against the Float64 reference; and the commands a
// step records.
import t from 'tap';
import { gpuRuntime, useBackend } from '../../engine/backend.ts';
import { tensor } from '../../engine/create.ts';
import { maxRelativeError } from '../../engine/gradcheck.ts';
import { Random } from '../../engine/random.ts';
import { scope } from '../../engine/scope.ts';
import type { BackendName, Tensor } from '../../engine/tensor.ts';
import { createOptimizer, type OptimizerKind, type OptimizerOptions } from '../../nn/optim/optimizer.ts';
import { withGpu } from '../gpu.ts';

/** Odd sizes, from one element to more than one workgroup's worth. */
const SIZES = Array.from({ length: 30 }, (_, i) => [1, 3, 64, 255, 257, 1000][i % 6] + i);
/** The parameter left without a gradient at step 3, so from then on its step count trails the others'. */
const SKIPPED = 7;

/** Each case and its state arenas (bound once a dispatch). */
const cases: Array<[OptimizerKind, OptimizerOptions, number]> = [
  ['adam', { lr: 0.01, weightDecay: 0.01 }, 2],
  ['adamw', { lr: 0.01, weightDecay: 0.05, betas: [0.8, 0.99] }, 2],
  ['sgd', { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 }, 1],
  ['sgd', { lr: 0.05 }, 0],
];

function f32Values(rng: Random, n: number): number[] {
  return Array.from({ length: n }, () => Math.fround(rng.uniform(-1, 1)));
}

/** Four steps of 30 parameters; returns every parameter and state value, and the dispatches of each GPU step. */
async function run(backend: BackendName, kind: OptimizerKind, options: OptimizerOptions) {
  const rng = new Random(17);
  const params = SIZES.map((n, i): [string, Tensor] => [`p${i}`, tensor(f32Values(rng, n), [n], { backend, requiresGrad: true }).keep()]);
  const optimizer = createOptimizer(kind, params, options);
  const dispatches: number[] = [];
  for (let step = 0; step < 4; step++) {
    const grads = SIZES.map((n) => f32Values(rng, n));
    scope(() => {
      params.forEach(([, p], i) => {
        p.grad = step === 2 && i === SKIPPED ? null : tensor(grads[i], p.shape, { backend });
      });
      const before = backend === 'webgpu' ? gpuRuntime().dispatchCount : 0;
      optimizer.step();
      if (backend === 'webgpu') dispatches.push(gpuRuntime().dispatchCount - before);
    });
    for (const [, p] of params) p.grad = null;
  }
  const named = [...params, ...optimizer.stateTensors()];
  const result = new Map<string, number[]>();
  for (const [name, x] of named) result.set(name, Array.from(await x.toArray()));
  for (const [, x] of named) x.dispose();
  optimizer.dispose();
  return { result, dispatches };
}

t.test('WebGPU: many parameters a dispatch, against the Float64 reference', async (t) => {
  if (!(await withGpu(t))) return;
  for (const [kind, options, stateArenas] of cases) {
    const cpu = await run('cpu', kind, options);
    await useBackend('webgpu');
    const gpu = await run('webgpu', kind, options);
    // 16 chunks fill the uniform table (CHUNK_TABLE_VEC4S).
    const perDispatch = Math.min(16, Math.floor((gpuRuntime().adapter.limits.maxStorageBuffersPerShaderStage - stateArenas) / 2));
    await useBackend('cpu');
    const label = `${kind} ${JSON.stringify(options)}`;
    t.same([...gpu.result.keys()], [...cpu.result.keys()], `${label}: the same parameters and state`);
    const error = Math.max(...[...cpu.result.keys()].map((k) => maxRelativeError(gpu.result.get(k)!, cpu.result.get(k)!)));
    t.ok(error <= 1e-6, `${label}: within ${error.toExponential(2)} relative`);
    const together = Math.ceil(SIZES.length / perDispatch);
    // Step 3 skips one parameter; step 4 has it one step behind the rest, so it takes a dispatch of its own.
    const expected = [together, together, Math.ceil((SIZES.length - 1) / perDispatch), Math.ceil((SIZES.length - 1) / perDispatch) + 1];
    t.same(gpu.dispatches, expected, `${label}: ${perDispatch} parameters a dispatch (${stateArenas} state arenas, then 2 bindings each)`);
  }
});
