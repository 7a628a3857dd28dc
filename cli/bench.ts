#!/usr/bin/env node
// node cli/bench.js NAME: benchmarks, kept apart from the tests. Each reports speed as a ratio to
// a baseline measured in the same run, because this machine is shared and noisy.
import { helpText, parseCommand, type CommandSpec } from './args.ts';
import type { Benchmark } from './bench/benchmark.ts';
import { benchmark as conv } from './bench/conv.ts';
import { benchmark as loader } from './bench/loader.ts';
import { benchmark as matmul } from './bench/matmul.ts';
import { benchmark as sepbn } from './bench/sepbn.ts';
import { benchmark as suite } from './bench/suite.ts';
import { benchmark as train } from './bench/train.ts';
import { backendOptionDefaulting, openBackend, runMain, UsageError } from './main.ts';

const benchmarks: Benchmark[] = [suite, matmul, conv, sepbn, train, loader];

const name = process.argv[2];
const chosen = benchmarks.find((b) => b.name === name);
const list = benchmarks.map((b) => `  ${b.name.padEnd(10)}${b.summary}`).join('\n');

if (!chosen) {
  const text = `usage: node cli/bench.js NAME [options]\n\nbenchmarks:\n${list}\n\nnode cli/bench.js NAME --help lists a benchmark's options.\n`;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(text);
  } else {
    process.stderr.write(`unknown benchmark "${name}"\n\n${text}`);
    process.exitCode = 2;
  }
} else {
  const spec: CommandSpec = {
    usage: `node cli/bench.js ${chosen.name} [options]`,
    summary: chosen.summary,
    // Benchmarks time WebGPU kernels, so the backend defaults to webgpu outright, with no CPU fallback.
    options: { ...chosen.options, ...(chosen.options.backend ? {} : { backend: backendOptionDefaulting('webgpu') }) },
  };
  const { values } = parseCommand(spec, process.argv.slice(3));
  runMain(async () => {
    // The loader is host work only; every other benchmark times WebGPU kernels.
    if (chosen.name !== 'loader' && (await openBackend(values.backend)) !== 'webgpu') {
      throw new UsageError(`the ${chosen.name} benchmark times WebGPU kernels; --backend cpu has none\n\n${helpText(spec)}`);
    }
    const result = await chosen.run(values);
    if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  });
}
