// Both networks' training step under the hardware plan keeps a 132-multiprocessor GPU busy: every
// pass that does real work dispatches at least FILL_WORKGROUPS workgroups of at least 64
// invocations, at batch 8 (the paper's) and 64, with WebGPU's default limits and an H100's.
import t from 'tap';
import { DEFAULT_KERNEL_LIMITS, type KernelLimits } from '../../engine/webgpu/kernel-plan.ts';
import { FILL_WORKGROUPS } from '../../engine/webgpu/grid.ts';
import { hardwarePlanFill, workgroupInvocations } from '../../models/gpu-fill.ts';
import { modelConfig } from '../../models/registry.ts';

const H100: KernelLimits = { maxComputeWorkgroupStorageSize: 49152, maxComputeInvocationsPerWorkgroup: 1024, maxStorageBufferBindingSize: 2 ** 31 - 4 };

t.test('every pass of both networks fills a large GPU at batch 8 and 64', async (t) => {
  for (const [adapter, limits] of [['default limits', DEFAULT_KERNEL_LIMITS], ['H100 limits', H100]] as const) {
    for (const model of ['baseline', 'sepbn'] as const) {
      for (const batch of [8, 64]) {
        const rows = hardwarePlanFill(modelConfig(model), batch, limits);
        // Per layer forward, weight gradient, input gradient (not conv1's); the baseline's bias
        // gradients, SepBN's statistics (its training op takes the bias over); six fc passes.
        t.equal(rows.length, 6 * 3 - 1 + 6 + 6, `${model}: every conv, bias or statistics, and fc pass is listed`);
        for (const r of rows) {
          t.ok(r.workgroups >= FILL_WORKGROUPS && r.invocations >= 64,
            `${adapter} ${model} batch ${batch} ${r.pass}: ${r.workgroups} workgroups of ${r.invocations} (${r.kernel}, ${r.splits} splits)`);
        }
      }
    }
  }
});

t.test('an unknown kernel has no invocation rule and says so', async (t) => {
  t.throws(() => workgroupInvocations({ kernel: 'mystery', access: [], uniforms: new ArrayBuffer(16), workgroups: [1, 1, 1], describe: '' }), /no rule for kernel mystery/);
});
