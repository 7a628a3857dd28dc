// One SepBatchNorm2d against PyTorch's (test/fixtures/golden/sepbn-layer-g*, made once by
// make-golden.py, which mixes K nn.BatchNorm2d literally), with one and with two channel groups:
// the train-mode output, the gradients of the input and of every parameter for a given output
// gradient, the running statistics after that forward, and the eval output with the original
// ones. On the Float64 CPU reference, then on WebGPU under every kernel plan.
import t from 'tap';
import { backward } from '../../engine/autodiff.ts';
import { useBackend } from '../../engine/backend.ts';
import { tensor } from '../../engine/create.ts';
import { scope } from '../../engine/scope.ts';
import { noGrad, type Tensor } from '../../engine/tensor.ts';
import { InitSeeds } from '../../nn/init.ts';
import { SepBatchNorm2d } from '../../nn/layers/sep-batch-norm.ts';
import type { NamedArray } from '../../nn/safetensors.ts';
import { loadStateDict, toNamedArrays } from '../../nn/state-dict.ts';
import { compareToGolden, forEachKernelPlan, GOLDEN_DIR, readGolden } from '../fixtures/golden.ts';
import { withGpu } from '../gpu.ts';

const GROUPS = [1, 2];
/** PyTorch computed in float64 and stored float32: the CPU may differ by that rounding alone. */
const CPU_TOLERANCE = 1e-5;
/** f32 kernels against float64; measured within 3e-6 on lavapipe. */
const GPU_TOLERANCE = 1e-4;

/** The layer's inputs, x and the gradient of its output, beside PyTorch's results. */
const INPUTS = ['x', 'grad_y'];

/** A fixture's results, and our layer's on the current backend, run as make-golden.py ran PyTorch's. */
async function ourLayerAndGolden(groups: number): Promise<{ golden: Map<string, NamedArray>; ours: Map<string, NamedArray> }> {
  const { tensors, metadata } = readGolden(`sepbn-layer-g${groups}.golden.safetensors`);
  const golden = new Map([...tensors].filter(([name]) => !INPUTS.includes(name)));
  return { golden, ours: await ourLayer(tensors, metadata) };
}

/** Our layer's results by PyTorch's names. */
async function ourLayer(fixture: Map<string, NamedArray>, metadata: Record<string, string>): Promise<Map<string, NamedArray>> {
  const config = { K: Number(metadata.K), ratio: Number(metadata.ratio), groups: Number(metadata.groups), temperature: Number(metadata.temperature) };
  // The initial weights do not matter: the file's replace them.
  const layer = new SepBatchNorm2d(Number(metadata.channels), config, new InitSeeds(0));
  loadStateDict(GOLDEN_DIR + metadata.weights, layer);
  const input = (name: string, requiresGrad = false) => {
    const { data, shape } = fixture.get(name)!;
    return tensor(data as Float32Array, shape, { label: name, requiresGrad });
  };
  const entries = await scope(async () => {
    const x = input('x', true);
    layer.eval();
    const evalY = noGrad(() => layer.forward(x));
    layer.train();
    const y = layer.forward(x);
    backward(y, { grad: input('grad_y') });
    const named: Array<[string, Tensor]> = [['eval_y', evalY], ['y', y], ['grad.x', x.grad!]];
    for (const [name, p] of layer.namedParameters()) named.push([`grad.${name}`, p.grad!]);
    return [...(await toNamedArrays(named)), ...(await toNamedArrays(layer.namedBuffers().map(([n, b]) => [`buffer.${n}`, b])))];
  });
  return new Map(entries);
}

for (const groups of GROUPS) {
  t.test(`SepBN groups=${groups}: the Float64 CPU reference gives PyTorch's answer`, async (t) => {
    await useBackend('cpu');
    const { golden, ours } = await ourLayerAndGolden(groups);
    compareToGolden(t, `groups=${groups} cpu`, golden, ours, CPU_TOLERANCE);
  });
}

t.test("SepBN on WebGPU gives PyTorch's answer under every kernel plan", async (t) => {
  if (!(await withGpu(t))) return;
  await useBackend('webgpu');
  try {
    await forEachKernelPlan(t, async (plan) => {
      for (const groups of GROUPS) {
        const { golden, ours } = await ourLayerAndGolden(groups);
        compareToGolden(t, `groups=${groups} webgpu ${plan}`, golden, ours, GPU_TOLERANCE);
      }
    });
  } finally {
    await useBackend('cpu');
  }
});
