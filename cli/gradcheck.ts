#!/usr/bin/env node
// node cli/gradcheck.js: the op witness as a table: every op's gradients against finite
// differences on the CPU, and the WebGPU kernels against the CPU.
import { formatCheckTable, gradcheck, type CheckRow } from '../engine/gradcheck.ts';
import { registry } from '../engine/ops/registry.ts';
import { parseCommand } from './args.ts';
import { backendOptionDefaulting, openBackend, runMain, UsageError } from './main.ts';

const { values } = parseCommand({
  usage: 'node cli/gradcheck.js [--op NAME] [--backend webgpu|cpu] [--json]',
  summary:
    'Checks every op: on the CPU (Float64) the tape gradients against central finite differences\n' +
    '(eps 1e-6, atol 1e-5, rtol 1e-3); with --backend webgpu also the GPU forward and backward against the CPU.',
  options: {
    op: { type: 'string', value: 'NAME', help: `only this op (one of: ${registry.map((w) => w.op).join(', ')})` },
    // Checking the WebGPU kernels is this command's point: no silent fallback to the CPU.
    backend: backendOptionDefaulting('webgpu'),
    json: { type: 'boolean', help: 'print the rows as JSON' },
  },
});

runMain(async () => {
  const witnesses = values.op ? registry.filter((w) => w.op === values.op) : registry;
  if (witnesses.length === 0) throw new UsageError(`--op ${values.op}: no such op; known: ${registry.map((w) => w.op).join(', ')}`);
  const backend = await openBackend(values.backend);
  const rows: CheckRow[] = [];
  for (const w of witnesses) {
    for (const c of w.cases) rows.push(...(await gradcheck(w.op, c, { gpu: backend === 'webgpu' })));
  }
  const failed = rows.filter((r) => !r.pass).length;
  if (values.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  else {
    process.stdout.write(formatCheckTable(rows));
    process.stdout.write(`\n${rows.length - failed} passed, ${failed} failed\n`);
  }
  if (failed > 0) process.exitCode = 1;
});
