// The subgroup convolution kernels (lavapipe's choice for the model's 3x3 layers) against the
// Float64 CPU reference on shapes the witness's small cases do not reach: weight gradients split
// over many image rows, with vec4 and scalar stores, rows of 4, 8, 12 and 24 pixels, and the narrow
// input gradient's blocks of 4, 2 and 1 image rows, with subgroups that wrap onto the next row.
import t from 'tap';
import { backward } from '../../../engine/autodiff.ts';
import { gpuRuntime, useBackend } from '../../../engine/backend.ts';
import { normal } from '../../../engine/create.ts';
import { conv2d } from '../../../engine/ops/conv2d/conv2d.ts';
import { planConv2dBackwardInput, planConv2dBackwardWeight, planConv2dForward } from '../../../engine/ops/conv2d/plan.ts';
import { scope } from '../../../engine/scope.ts';
import type { BackendName } from '../../../engine/tensor.ts';
import { withGpu } from '../../gpu.ts';
import { maxRelativeError } from '../../../engine/gradcheck.ts';

interface Case {
  N: number;
  Ci: number;
  Co: number;
  H: number;
  W: number;
}

const cases: Case[] = [
  { N: 2, Ci: 3, Co: 20, H: 64, W: 64 }, // the first layer's 3 channels, split 4 ways
  { N: 2, Ci: 12, Co: 9, H: 64, W: 32 }, // Ci not a multiple of 8: scalar stores, split
  { N: 2, Ci: 16, Co: 40, H: 64, W: 32 }, // vec4 stores, split
  { N: 3, Ci: 8, Co: 7, H: 5, W: 12 }, // rows of 12 pixels
  { N: 5, Ci: 9, Co: 6, H: 6, W: 4 }, // 4-wide rows: two image rows per lane
  { N: 3, Ci: 2, Co: 5, H: 6, W: 24 }, // narrow input gradient: 2-row blocks, 3 blocks a row
  { N: 2, Ci: 1, Co: 3, H: 7, W: 16 }, // narrow input gradient: 1-row blocks; general forward
];

async function run(backend: BackendName, c: Case) {
  return scope(async () => {
    const opts = (seed: number) => ({ seed, backend, requiresGrad: true });
    const x = normal([c.N, c.Ci, c.H, c.W], opts(1));
    const w = normal([c.Co, c.Ci, 3, 3], { ...opts(2), std: 0.2 });
    const b = normal([c.Co], opts(3));
    const y = conv2d(x, w, { bias: b, pad: 1, leakySlope: 0.01 });
    backward(y, { grad: normal(y.shape, { seed: 4, backend }) });
    return Promise.all([y, x.grad!, w.grad!, b.grad!].map(async (v) => Float64Array.from(await v.toArray())));
  });
}

t.test('subgroup convolution kernels match the Float64 CPU', async (t) => {
  if (!(await withGpu(t))) return;
  const kernels = gpuRuntime().kernels;
  for (const c of cases) {
    const p = { ...c, KH: 3, KW: 3, stride: 1, pad: 1, hasBias: true, activation: 'leaky_relu' as const, slope: 0.01 };
    const label = `x[${c.N},${c.Ci},${c.H},${c.W}] -> ${c.Co}`;
    if (kernels.plan === 'software' && kernels.subgroupSize !== undefined) {
      const forward = planConv2dForward(p, kernels).launches[0]!;
      const expected = c.Ci <= 4 && c.W % 8 === 0 && c.H % 2 === 0 ? 'conv2d_forward_narrow' : 'conv2d_subgroup';
      t.equal(forward.kernel, expected, `${label}: forward by ${expected}`);
      const input = planConv2dBackwardInput(p, kernels).launches[0]!;
      const expectedInput = c.Ci <= 4 && c.W % 8 === 0 ? 'conv2d_backward_input_narrow' : 'conv2d_subgroup';
      t.equal(input.kernel, expectedInput, `${label}: input gradient by ${expectedInput} ${JSON.stringify(input.unroll)}`);
      const weight = planConv2dBackwardWeight(p, kernels);
      t.equal(weight.launches[0]!.kernel, 'conv2d_backward_weight_subgroup', `${label}: subgroup weight gradient, ${weight.splits} splits`);
    }
    const reference = await run('cpu', c);
    await useBackend('webgpu');
    const gpu = await run('webgpu', c);
    await useBackend('cpu');
    ['y', 'grad x', 'grad weight', 'grad bias'].forEach((name, i) => {
      const err = maxRelativeError(gpu[i]!, reference[i]!);
      t.ok(err < 2e-5, `${label} ${name}: relative difference ${err.toExponential(2)}`);
    });
  }
  const splits = cases.map((c) => planConv2dBackwardWeight({ ...c, KH: 3, KW: 3, stride: 1, pad: 1, hasBias: true, activation: 'none', slope: 0 }, { plan: 'software', subgroupSize: 8 }).splits);
  t.ok(splits.slice(0, 3).every((s) => s > 1), `the first three cases split their weight gradients (${splits.join(', ')})`);
});
