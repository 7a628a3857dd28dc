#!/usr/bin/env node
// node cli/summary.js: the network's layers, output shapes, parameters and MACs.
import { isModelName, MODEL_NAMES, modelConfig } from '../models/registry.ts';
import { summarize } from '../models/summary.ts';
import { numberOption, parseCommand } from './args.ts';
import { runMain, UsageError } from './main.ts';

const { values } = parseCommand({
  usage: 'node cli/summary.js [--model baseline|sepbn|bn] [--width W] [--json]',
  summary: 'Per-layer output shape, parameters and multiply-accumulates of the Vanilla CNN, and totals.',
  options: {
    model: { type: 'string', value: MODEL_NAMES.join('|'), default: 'sepbn', help: 'which network' },
    width: { type: 'string', value: 'W', default: '1', help: 'width divisor: channels 64/W .. 2048/W' },
    json: { type: 'boolean', help: 'print JSON' },
  },
});

runMain(async () => {
  if (!isModelName(values.model)) throw new UsageError(`--model must be one of ${MODEL_NAMES.join(', ')}, got "${values.model}"`);
  const summary = summarize(modelConfig(values.model, numberOption(values, 'width')));
  if (values.json) {
    process.stdout.write(JSON.stringify({ model: values.model, ...summary }, null, 2) + '\n');
    return;
  }
  const fmt = (n: number) => n.toLocaleString('en-US');
  const rows = summary.rows.map((r) => [r.layer, `[N,${r.outputShape.join(',')}]`, fmt(r.parameters), fmt(r.macs)]);
  const header = ['layer', 'output', 'parameters', 'MACs'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((v, i) => (i < 2 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), line(widths.map((w) => '-'.repeat(w)))];
  out.push(line(['total', '', fmt(summary.totalParameters), fmt(summary.totalMacs)]));
  out.push('', `${fmt(summary.totalParameters)} parameters, ${(summary.totalMacs / 1e9).toFixed(2)} GMac`, '', summary.convention);
  process.stdout.write(out.join('\n') + '\n');
});
