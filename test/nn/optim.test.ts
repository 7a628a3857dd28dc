// Optimizers against PyTorch's update rules worked by hand, the WebGPU kernels against the
// Float64 reference, checkpoint round trips, and the schedules' landmark values.
import t, { type Test } from 'tap';
import { useBackend } from '../../engine/backend.ts';
import { tensor } from '../../engine/create.ts';
import { Random } from '../../engine/random.ts';
import { scope } from '../../engine/scope.ts';
import type { BackendName, Tensor } from '../../engine/tensor.ts';
import { gpuBuffer } from '../../engine/webgpu/storage.ts';
import { createOptimizer, TRAINING_DEFAULTS, type Optimizer, type OptimizerKind, type OptimizerOptions } from '../../nn/optim/optimizer.ts';
import { constant, sepBnTemperature, warmupCosine } from '../../nn/optim/schedule.ts';
import { withGpu } from '../gpu.ts';
import { maxRelativeError } from '../../engine/gradcheck.ts';

/** Values that f32 holds exactly, so both backends start from the same numbers. */
function f32Values(size: number, seed: number, spread = 1): number[] {
  const rng = new Random(seed);
  return Array.from({ length: size }, () => Math.fround(rng.uniform(-spread, spread)));
}

function makeParams(backend: BackendName, values: Array<ArrayLike<number>>): Array<[string, Tensor]> {
  return values.map((v, i) => [`layer${i}.weight`, tensor(v, [v.length], { backend, requiresGrad: true, label: `layer${i}.weight` }).keep()]);
}

/** Sets each param.grad, steps once, and frees the gradients (as a training step's scope would). */
function stepWith(optimizer: Optimizer, grads: Array<ArrayLike<number>>): void {
  scope(() => {
    optimizer.params.forEach(([, p], i) => {
      p.grad = tensor(grads[i], p.shape, { backend: p.backend });
    });
    optimizer.step();
  });
  for (const [, p] of optimizer.params) p.grad = null;
}

async function values(named: Array<[string, Tensor]>): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [name, tensor] of named) out.set(name, Array.from(await tensor.toArray()));
  return out;
}

/** The optimizer's state values; the copies stateTensors makes are freed by the scope. */
function stateValues(optimizer: Optimizer): Promise<Map<string, number[]>> {
  return scope(() => values(optimizer.stateTensors()));
}

// ---- (a) three steps worked by hand with PyTorch's formulas --------------------------------

const handParams = [0.5, -1.25, 2, 0.1, -0.3];
const handGrads = [
  [0.2, -0.1, 0.05, -3, 1e-4],
  [-0.4, 0.3, 0.05, 2.5, -2e-4],
  [0.1, 0.2, -0.6, -1, 3e-4],
];

interface AdamHand { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean }

/** torch.optim.Adam / AdamW, _single_tensor_adam, one element at a time. */
function adamByHand(o: AdamHand): number[] {
  return handParams.map((p0, i) => {
    let p = p0;
    let expAvg = 0;
    let expAvgSq = 0;
    handGrads.forEach((grads, k) => {
      const step = k + 1;
      let grad = grads[i];
      if (o.decoupled) p = p * (1 - o.lr * o.weightDecay);
      else grad = grad + o.weightDecay * p;
      expAvg = expAvg + (1 - o.beta1) * (grad - expAvg);
      expAvgSq = expAvgSq * o.beta2 + (1 - o.beta2) * grad * grad;
      const stepSize = o.lr / (1 - o.beta1 ** step);
      const denom = Math.sqrt(expAvgSq) / (1 - o.beta2 ** step) ** 0.5 + o.eps;
      p = p + -stepSize * (expAvg / denom);
    });
    return p;
  });
}

/** torch.optim.SGD, _single_tensor_sgd, dampening 0. */
function sgdByHand(lr: number, momentum: number, weightDecay: number): number[] {
  return handParams.map((p0, i) => {
    let p = p0;
    let buf: number | undefined;
    for (const grads of handGrads) {
      const grad = grads[i] + weightDecay * p;
      buf = momentum === 0 ? grad : buf === undefined ? grad : buf * momentum + grad;
      p = p + -lr * buf;
    }
    return p;
  });
}

const handCases: Array<{ label: string; kind: OptimizerKind; options: OptimizerOptions; expected: () => number[] }> = [
  { label: 'Adam', kind: 'adam', options: { lr: 0.1 }, expected: () => adamByHand({ lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false }) },
  {
    label: 'Adam, L2 weight decay, betas 0.8/0.99, eps 1e-3',
    kind: 'adam',
    options: { lr: 0.05, betas: [0.8, 0.99], eps: 1e-3, weightDecay: 0.1 },
    expected: () => adamByHand({ lr: 0.05, beta1: 0.8, beta2: 0.99, eps: 1e-3, weightDecay: 0.1, decoupled: false }),
  },
  {
    label: 'AdamW, decoupled weight decay',
    kind: 'adamw',
    options: { lr: 0.1, weightDecay: 0.2 },
    expected: () => adamByHand({ lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.2, decoupled: true }),
  },
  { label: 'SGD, momentum 0.9, weight decay 0.01', kind: 'sgd', options: { lr: 0.1, momentum: 0.9, weightDecay: 0.01 }, expected: () => sgdByHand(0.1, 0.9, 0.01) },
  { label: 'SGD, plain', kind: 'sgd', options: { lr: 0.1 }, expected: () => sgdByHand(0.1, 0, 0) },
];

async function runHandCase(backend: BackendName, kind: OptimizerKind, options: OptimizerOptions): Promise<number[]> {
  const params = makeParams(backend, [handParams]);
  const optimizer = createOptimizer(kind, params, options);
  for (const grads of handGrads) stepWith(optimizer, [grads]);
  const result = Array.from(await params[0][1].toArray());
  for (const [, p] of params) p.dispose();
  optimizer.dispose();
  return result;
}

async function checkHandCases(t: Test, backend: BackendName, tolerance: number): Promise<void> {
  for (const c of handCases) {
    const error = maxRelativeError(await runHandCase(backend, c.kind, c.options), c.expected());
    t.ok(error <= tolerance, `${c.label}: relative error ${error.toExponential(2)} <= ${tolerance}`);
  }
}

t.test('the first Adam step moves each weight by lr * g / (|g| + eps)', async (t) => {
  const params = makeParams('cpu', [handParams]);
  const optimizer = createOptimizer('adam', params, { lr: 0.1 });
  stepWith(optimizer, [handGrads[0]]);
  const stepped = Array.from(await params[0][1].toArray());
  const expected = handParams.map((p, i) => p - (0.1 * handGrads[0][i]) / (Math.abs(handGrads[0][i]) + 1e-8));
  t.ok(maxRelativeError(stepped, expected) < 1e-12, 'bias correction makes the first step sign-like');
});

t.test('(a) CPU reference against three steps worked by hand', async (t) => checkHandCases(t, 'cpu', 1e-12));

// ---- the bookkeeping PyTorch defines ---------------------------------------------------------

t.test('a parameter without a gradient is skipped and keeps its own step count', async (t) => {
  const params = makeParams('cpu', [[1, 2], [3]]);
  const optimizer = createOptimizer('adam', params);
  stepWith(optimizer, [[0.1, 0.2], [0.3]]);
  params[1][1].grad = null;
  params[0][1].grad = tensor([0.1, 0.2], [2]);
  optimizer.step();
  t.same(Array.from(await params[1][1].toArray()).map((v) => Math.round(v * 1e6) / 1e6), [2.999], 'one step only');
  t.same(optimizer.stateScalars(), { step: 2, 'layer1.weight.step': 1 });
  t.same(optimizer.stateTensors().map(([n]) => n), ['layer0.weight.exp_avg', 'layer0.weight.exp_avg_sq', 'layer1.weight.exp_avg', 'layer1.weight.exp_avg_sq']);
});

t.test('parameters, options and checkpoints that cannot work are refused with the reason', async (t) => {
  const loose = tensor([1], [1], { requiresGrad: true });
  t.throws(() => createOptimizer('sgd', [['w', loose]]), /not kept/);
  const frozen = tensor([1], [1]).keep();
  t.throws(() => createOptimizer('sgd', [['w', frozen]]), /does not require grad/);
  const params = makeParams('cpu', [[1, 2, 3]]);
  t.throws(() => createOptimizer('adam', params, { momentum: 0.9 }), /Adam: unknown option\(s\) momentum/);
  t.throws(() => createOptimizer('adam', params, { betas: [1, 0.999] }), /betas\[0\] must be in \[0, 1\)/);
  const optimizer = createOptimizer('adam', params);
  t.throws(() => optimizer.loadState(new Map(), {}), /scalar 'step' is missing/);
  t.throws(
    () => optimizer.loadState(new Map([['layer0.weight.exp_avg', new Float32Array(2)], ['conv9.bias.exp_avg', new Float32Array(1)]]), { step: 4 }),
    /missing layer0.weight.exp_avg_sq; mis-sized: layer0.weight.exp_avg has 2 values, layer0.weight\[3\] needs 3; not state of this Adam.*conv9.bias.exp_avg/,
  );
  t.same(optimizer.stateTensors(), [], 'a refused load changes nothing');
  params[0][1].grad = tensor([1, 2], [2]);
  t.throws(() => optimizer.step(), /layer0.weight is \[3\] on cpu but its grad is \[2\] on cpu/);
});

// ---- (c) state round trip ---------------------------------------------------------------------

const roundTripSizes = [1, 7, 1000];
const roundTripGrads = Array.from({ length: 5 }, (_, step) => roundTripSizes.map((n, i) => f32Values(n, 100 + 10 * step + i)));
const roundTripStart = roundTripSizes.map((n, i) => f32Values(n, 50 + i));

/** Five steps straight, or three, a save (as Float32 or as the backend's own precision), a fresh optimizer, two. */
async function roundTrip(backend: BackendName, kind: OptimizerKind, options: OptimizerOptions, savePrecision: 'f32' | 'f64' | null) {
  const params = makeParams(backend, roundTripStart);
  let optimizer = createOptimizer(kind, params, options);
  for (let step = 0; step < 5; step++) {
    if (step === 3 && savePrecision) {
      const saved = new Map<string, Float32Array | Float64Array>();
      for (const [name, data] of await stateValues(optimizer)) {
        saved.set(name, savePrecision === 'f32' ? Float32Array.from(data) : Float64Array.from(data));
      }
      const scalars = { ...optimizer.stateScalars() };
      optimizer.dispose();
      optimizer = createOptimizer(kind, params, options);
      optimizer.loadState(saved, scalars);
    }
    stepWith(optimizer, roundTripGrads[step]);
  }
  const result = { params: await values(params), state: await stateValues(optimizer), scalars: optimizer.stateScalars() };
  for (const [, p] of params) p.dispose();
  optimizer.dispose();
  return result;
}

const roundTripCases: Array<[OptimizerKind, OptimizerOptions]> = [
  ['adam', { lr: 0.01, weightDecay: 0.01 }],
  ['adamw', { lr: 0.01, weightDecay: 0.01 }],
  ['sgd', { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 }],
];

t.test('(c) CPU: save after 3 steps, resume, 2 more equals 5 straight', async (t) => {
  for (const [kind, options] of roundTripCases) {
    const straight = await roundTrip('cpu', kind, options, null);
    const resumed = await roundTrip('cpu', kind, options, 'f64');
    t.same(resumed, straight, `${kind}: exact with Float64 state`);
    const fromFile = await roundTrip('cpu', kind, options, 'f32');
    const error = Math.max(...[...straight.params.keys()].map((k) => maxRelativeError(fromFile.params.get(k)!, straight.params.get(k)!)));
    t.ok(error < 1e-6, `${kind}: state rounded to f32 (a checkpoint file) costs ${error.toExponential(2)} relative`);
  }
});

// ---- (d) schedules ----------------------------------------------------------------------------

t.test('(d) warm-up cosine, constant and the SepBN temperature', async (t) => {
  const lr = warmupCosine({ baseLr: 1e-3, warmupEpochs: 5, totalEpochs: 105 });
  t.equal(lr(0), 1e-10, 'warm-up starts at the floor');
  t.ok(Math.abs(lr(2.5) - (1e-10 + (1e-3 - 1e-10) / 2)) < 1e-18, 'halfway through the warm-up');
  t.equal(lr(5), 1e-3, 'warm-up ends at baseLr');
  t.ok(Math.abs(lr(55) - (1e-3 + 1e-10) / 2) < 1e-18, 'cosine midpoint is halfway between baseLr and the floor');
  t.ok(Math.abs(lr(105) - 1e-10) < 1e-24, 'ends at the floor');
  t.equal(lr(200), 1e-10, 'stays at the floor');
  t.ok(lr(30) > lr(30.5) && lr(30.5) > lr(31), 'falls within an epoch when called per step');
  t.throws(() => warmupCosine({ baseLr: 1e-3, warmupEpochs: 10, totalEpochs: 10 }), /warmupEpochs < totalEpochs/);
  t.equal(constant(0.01)(17.3), 0.01);
  t.equal(sepBnTemperature(0), 30);
  t.equal(sepBnTemperature(29), 1);
  t.equal(sepBnTemperature(100), 1);
  t.equal(sepBnTemperature(10, 5), 1);
  t.equal(sepBnTemperature(3, 10, 2, 2.5), 2.5, 'a step of 2.5 from 10: 10, 7.5, 5, 2.5');
  t.equal(sepBnTemperature(4, 10, 2, 2.5), 2, 'then held at the end');
  t.equal(sepBnTemperature(50, 5, 5, 0), 5, 'a step of 0 keeps the start');
  t.same(TRAINING_DEFAULTS.sgd, { lr: 1e-3, momentum: 0.9, weightDecay: 5e-4 });
});

// ---- WebGPU ------------------------------------------------------------------------------------

t.test('WebGPU', async (t) => {
  if (!(await withGpu(t))) return;
  await useBackend('webgpu');

  await t.test('(a) against three steps worked by hand', async (t) => checkHandCases(t, 'webgpu', 1e-6));

  await t.test('(b) against the CPU on odd sizes, 5 steps', async (t) => {
    const sizes = [1, 7, 1000, 70000];
    const start = sizes.map((n, i) => f32Values(n, 7 + i));
    const grads = Array.from({ length: 5 }, (_, step) => sizes.map((n, i) => f32Values(n, 1000 + 10 * step + i, 2)));
    const cases: Array<[OptimizerKind, OptimizerOptions]> = [
      ['adam', { lr: 0.01, weightDecay: 0.01 }],
      ['adamw', { lr: 0.01, weightDecay: 0.05, betas: [0.8, 0.99] }],
      ['sgd', { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 }],
      ['sgd', { lr: 0.05 }],
    ];
    for (const [kind, options] of cases) {
      const results = [];
      for (const backend of ['cpu', 'webgpu'] as const) {
        const params = makeParams(backend, start);
        const optimizer = createOptimizer(kind, params, options);
        const buffers = backend === 'webgpu' ? params.map(([, p]) => gpuBuffer(p)) : [];
        for (const g of grads) stepWith(optimizer, g);
        if (backend === 'webgpu') t.ok(params.every(([, p], i) => gpuBuffer(p) === buffers[i]), `${kind}: updated in the parameters' own buffers`);
        results.push(new Map([...(await values(params)), ...(await stateValues(optimizer))]));
        for (const [, p] of params) p.dispose();
        optimizer.dispose();
      }
      const [cpu, gpu] = results;
      t.same([...gpu.keys()], [...cpu.keys()], `${kind}: the same state`);
      const error = Math.max(...[...cpu.keys()].map((k) => maxRelativeError(gpu.get(k)!, cpu.get(k)!)));
      t.ok(error <= 1e-6, `${kind} ${JSON.stringify(options)}: parameters and state within ${error.toExponential(2)} relative`);
    }
  });

  await t.test('beyond 65535 workgroups the grid folds into two dimensions', async (t) => {
    const size = 65535 * 256 + 999;
    const start = new Float32Array(size);
    const grad = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      start[i] = (i % 1009) / 1009;
      grad[i] = ((7 * i) % 997) / 997 - 0.5;
    }
    const results = [];
    for (const backend of ['cpu', 'webgpu'] as const) {
      const params = makeParams(backend, [start]);
      const optimizer = createOptimizer('sgd', params, { lr: 0.5, weightDecay: 0.1 });
      stepWith(optimizer, [grad]);
      results.push(await params[0][1].toArray());
      params[0][1].dispose();
    }
    const error = maxRelativeError(results[1], results[0]);
    t.ok(error <= 1e-6, `${size} elements: within ${error.toExponential(2)} relative, the last ones included`);
  });

  await t.test('(c) save after 3 steps, resume, 2 more equals 5 straight', async (t) => {
    for (const [kind, options] of roundTripCases) {
      const straight = await roundTrip('webgpu', kind, options, null);
      const resumed = await roundTrip('webgpu', kind, options, 'f32');
      t.same(resumed, straight, `${kind}: identical f32 values`);
    }
  });

  await useBackend('cpu');
});
