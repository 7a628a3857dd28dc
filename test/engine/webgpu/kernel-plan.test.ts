import t from 'tap';
import { describeKernelChoice, kernelChoice } from '../../../engine/webgpu/kernel-plan.ts';

const lavapipe = { kind: 'software', subgroupSize: 8 } as const;
const gpu = { kind: 'hardware', subgroupSize: 32 } as const;
const swiftShader = { kind: 'software', subgroupSize: 4, architecture: 'swiftshader' } as const;

t.test('the adapter decides unless SEPBN_KERNEL_PLAN forces a plan', async (t) => {
  t.same(kernelChoice(lavapipe, {}), { plan: 'software', subgroupSize: 8 });
  t.same(kernelChoice(gpu, {}), { plan: 'hardware', subgroupSize: 32 });
  t.same(kernelChoice(swiftShader, {}).plan, 'naive', "SwiftShader's compiler is too slow for the subgroup kernels");
  t.same(kernelChoice(swiftShader, { SEPBN_KERNEL_PLAN: 'software' }).plan, 'software', 'unless a plan is forced');
  t.same(kernelChoice(lavapipe, { SEPBN_KERNEL_PLAN: 'hardware' }), { plan: 'hardware', subgroupSize: 8 }, 'the hardware tilings on lavapipe');
  t.same(kernelChoice(gpu, { SEPBN_KERNEL_PLAN: 'software' }), { plan: 'software', subgroupSize: 32 });
  t.same(kernelChoice(gpu, { SEPBN_KERNEL_PLAN: 'naive' }).plan, 'naive');
  t.same(kernelChoice(gpu, { SEPBN_NAIVE_KERNELS: '1' }).plan, 'naive', 'SEPBN_NAIVE_KERNELS=1 is a synonym');
  t.same(kernelChoice(gpu, { SEPBN_NAIVE_KERNELS: '1', SEPBN_KERNEL_PLAN: 'naive' }).plan, 'naive');
  t.throws(() => kernelChoice(gpu, { SEPBN_KERNEL_PLAN: 'fast' }), { message: 'SEPBN_KERNEL_PLAN=fast: expected one of hardware, software, naive' });
  t.throws(() => kernelChoice(gpu, { SEPBN_KERNEL_PLAN: 'hardware', SEPBN_NAIVE_KERNELS: '1' }), /ask for different kernels/);
});

t.test('the description says which plan and why', async (t) => {
  t.equal(describeKernelChoice({ plan: 'software', subgroupSize: 8 }, lavapipe, {}), "software, subgroups of 8 (the adapter's)");
  t.equal(describeKernelChoice({ plan: 'hardware', subgroupSize: 8 }, lavapipe, { SEPBN_KERNEL_PLAN: 'hardware' }), 'hardware (forced by SEPBN_KERNEL_PLAN)');
  t.equal(describeKernelChoice({ plan: 'naive' }, gpu, { SEPBN_NAIVE_KERNELS: '1' }), 'naive (forced by SEPBN_NAIVE_KERNELS=1)');
  t.equal(describeKernelChoice({ plan: 'software' }, gpu, {}), 'software, no fixed subgroup size: tilings (chosen by the program)');
  t.equal(describeKernelChoice({ plan: 'naive', subgroupSize: 4 }, swiftShader, {}), "naive (the adapter's)");
});
