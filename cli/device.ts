// node cli/device.js: what WebGPU adapter Dawn finds here, and the limits this engine relies on.
import { acquireDevice } from '../engine/device.ts';
import { parseCommand } from './args.ts';
import { runMain } from './main.ts';
import { describeKernelChoice, kernelChoice } from '../engine/webgpu/kernel-plan.ts';

const { values } = parseCommand({
  usage: 'node cli/device.js [--json]',
  summary: 'Prints the WebGPU adapter Dawn finds (vendor, architecture, software or hardware, key limits and features).',
  options: { json: { type: 'boolean', help: 'print JSON instead of a table' } },
});

runMain(async () => {
  const { adapter } = await acquireDevice();
  const kernels = kernelChoice(adapter);
  if (values.json) {
    process.stdout.write(JSON.stringify({ ...adapter, kernelPlan: kernels.plan }, null, 2) + '\n');
    return;
  }
  const rows: Array<[string, string]> = [
    ['vendor', adapter.vendor || '(not reported)'],
    ['architecture', adapter.architecture || '(not reported)'],
    ['device', adapter.device || '(not reported)'],
    ['description', adapter.description || '(not reported)'],
    ['kind', adapter.kind],
    ['kernel plan', describeKernelChoice(kernels, adapter)],
    ...Object.entries(adapter.limits).map(([k, v]) => [k, v.toLocaleString('en-US')] as [string, string]),
    ['features', adapter.features.join(' ')],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}${v}\n`);
});
