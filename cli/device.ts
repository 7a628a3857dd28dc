#!/usr/bin/env node
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
  process.stderr.write(DAWN_WARNINGS_NOTE);
});

/**
 * Dawn prints two warnings at every device creation on drivers that report an unlimited number of
 * dynamic buffers (lavapipe among them). Its native code writes them straight to the process's
 * stderr, out of JavaScript's reach, so they are explained here, once, rather than filtered.
 */
const DAWN_WARNINGS_NOTE =
  '\nnote: on some drivers (lavapipe among them) every command that opens the GPU first prints Dawn\'s\n' +
  '  "Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 ..." and the\n' +
  '  same for maxDynamicStorageBuffersPerPipelineLayout: the driver reports no real limit, and Dawn caps both\n' +
  '  at 16 to fit its own bookkeeping. They are harmless here, where each kernel binds one dynamic uniform\n' +
  '  buffer and no dynamic storage buffer; Dawn writes them from native code, so they cannot be filtered.\n';
