// Both networks against PyTorch's answer (test/fixtures/golden/, made once by make-golden.py): one
// train-mode step as `node cli/grads.js` takes it (output, loss, every gradient and running
// statistic, eval output, the weights after one SGD and one Adam step), on the Float64 CPU
// reference and on WebGPU under every kernel plan. The two backends share the layers, the model
// and the SepBN functions, so only a framework that shares none of our code catches a wrong answer
// they agree on (a BatchNorm momentum, the unbiased running variance, the attention's temperature).
import t from 'tap';
import { useBackend } from '../../engine/backend.ts';
import { referenceStep, type ReferenceOptimizer } from '../../models/reference-step.ts';
import { buildModel, isModelName, modelConfig } from '../../models/registry.ts';
import type { NamedArray } from '../../nn/safetensors.ts';
import { loadStateDict } from '../../nn/state-dict.ts';
import { compareToGolden, forEachKernelPlan, GOLDEN_DIR, readGolden, type ScaleFloor } from '../fixtures/golden.ts';
import { withGpu } from '../gpu.ts';

const CASES = ['baseline', 'sepbn-t30', 'sepbn-t1'];
const OPTIMIZERS: ReferenceOptimizer[] = ['sgd', 'adam'];
/** PyTorch computed in float64 and stored float32: the CPU may differ by that rounding alone. */
const CPU_TOLERANCE = 1e-5;
/**
 * f32 kernels against float64: within 1.2e-4 on lavapipe under every plan, the largest being bn1's
 * scale gradients (sums of 2*128*128 products that largely cancel).
 */
const GPU_TOLERANCE = 5e-4;

function readCase(name: string) {
  const { tensors: golden, metadata } = readGolden(`${name}.golden.safetensors`);
  const { tensors: batch } = readGolden(metadata.batch);
  if (!isModelName(metadata.model)) throw new Error(`${name}.golden.safetensors: unknown model ${metadata.model}`);
  return {
    golden,
    model: metadata.model,
    width: Number(metadata.width),
    temperature: metadata.temperature === undefined ? undefined : Number(metadata.temperature),
    weights: GOLDEN_DIR + metadata.weights,
    batch: { images: batch.get('images')!.data as Float32Array, landmarks: batch.get('landmarks')!.data as Float32Array },
  };
}

/** Our step on the current backend, once per optimizer from the same weights; its entries by name. */
async function ourStep(c: ReturnType<typeof readCase>): Promise<Map<string, NamedArray>> {
  const net = buildModel(modelConfig(c.model, c.width));
  if (c.temperature !== undefined) net.temperature = c.temperature;
  const ours = new Map<string, NamedArray>();
  for (const optimizer of OPTIMIZERS) {
    loadStateDict(c.weights, net);
    for (const [name, values] of await referenceStep(net, c.batch, optimizer)) ours.set(name, values);
  }
  return ours;
}

/**
 * The bias of a convolution in front of SepBN gets its gradient only through the attention: the
 * normalisation's part cancels exactly over N, H, W, which in f32 leaves noise that is large next
 * to the small true value (up to a tenth of it at temperature 30). Such a gradient is judged
 * against its layer's weight gradient, a sum of the same terms without the cancellation. The
 * steps taken with it stay close: the weights dwarf lr times that noise.
 */
function cancellingBiasFloor(golden: Map<string, NamedArray>): ScaleFloor {
  return (name) => {
    const layer = /^grad\.conv(\d)\.bias$/.exec(name)?.[1];
    if (layer === undefined || !golden.has(`buffer.bn${layer}.bn.0.running_mean`)) return undefined;
    const weightGrad = golden.get(`grad.conv${layer}.weight`)!.data as Float32Array;
    return weightGrad.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  };
}

for (const name of CASES) {
  t.test(`${name}: the Float64 CPU reference gives PyTorch's answer`, async (t) => {
    await useBackend('cpu');
    const c = readCase(name);
    compareToGolden(t, `${name} cpu`, c.golden, await ourStep(c), CPU_TOLERANCE);
  });
}

t.test("WebGPU gives PyTorch's answer under every kernel plan", async (t) => {
  if (!(await withGpu(t))) return;
  await useBackend('webgpu');
  try {
    await forEachKernelPlan(t, async (plan) => {
      for (const name of CASES) {
        const c = readCase(name);
        compareToGolden(t, `${name} webgpu ${plan}`, c.golden, await ourStep(c), GPU_TOLERANCE, cancellingBiasFloor(c.golden));
      }
    });
  } finally {
    await useBackend('cpu');
  }
});
