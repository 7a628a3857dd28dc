#!/usr/bin/env node
// node cli/explain.js sepbn: one SepBN layer on a tensor small enough to print, forward and
// backward, every gradient checked by finite differences; --json gives the same as JSON, --serve
// the page that computes it on a browser's WebGPU (cli/explain-page/).
import { formatValues } from '../engine/format.ts';
import {
  sepBnFusedComparison,
  sepBnWalkthrough,
  WALKTHROUGH_DEFAULTS,
  walkthroughOptions,
  type WalkStep,
  type WalkthroughOptions,
} from '../engine/ops/sep-batch-norm/walkthrough.ts';
import { useBackend } from '../engine/backend.ts';
import { numberOption, parseCommand } from './args.ts';
import { backendOptionDefaulting, openBackend, runMain, UsageError } from './main.ts';
import { servePage } from './page-server.ts';

const d = WALKTHROUGH_DEFAULTS;
const { values, positionals } = parseCommand({
  usage:
    'node cli/explain.js sepbn [--backend webgpu|cpu] [--brief | --json] [--temperature T] [--k K] [--groups G] [--seed S] [--input V,V,...]\n' +
    '       node cli/explain.js sepbn --serve [--port P]',
  summary:
    `Walks through one SepBN layer (N=${d.N}, C=${d.C}, H=W=${d.H}, K=${d.K}, ` +
    `hidden=${d.hidden}): each forward intermediate,\n` +
    'then the gradient reaching each one in the order the tape runs them, each confirmed by central finite\n' +
    'differences taken at that intermediate, then the fused kernels beside the composite of primitive ops.\n' +
    'With --backend webgpu every value also comes from the GPU, printed with its largest difference from the\n' +
    'Float64 CPU reference. The maths: engine/ops/sep-batch-norm/derivation.md.\n' +
    'With --serve, a page that computes the same on the browser\'s WebGPU, with controls for the settings below,\n' +
    'and a second panel that runs a checkpoint on a face and draws its landmarks and SepBN attention.',
  options: {
    backend: backendOptionDefaulting('cpu'),
    brief: { type: 'boolean', help: 'names, shapes and checks only, no values' },
    json: { type: 'boolean', help: 'the walkthrough as JSON (settings, every step with its values, the fused comparison) on stdout' },
    temperature: { type: 'string', value: 'T', help: `the attention's softmax temperature (default: ${d.temperature})` },
    k: { type: 'string', value: 'K', help: `the number of parameter sets (default: ${d.K})` },
    groups: { type: 'string', value: 'G', help: `channel groups, each with its own attention; divides C=${d.C} (default: ${d.groups})` },
    seed: { type: 'string', value: 'S', help: `seed of the drawn input and parameters (default: ${d.seed})` },
    input: { type: 'string', value: 'V,V,...', help: `the layer input x, ${d.N * d.C * d.H * d.W} numbers in NCHW order, in place of the drawn one` },
    serve: { type: 'boolean', help: 'serve the teaching page (from cli/explain-page/) and print its URL; Ctrl-C stops' },
    port: { type: 'string', value: 'P', help: 'the port --serve listens on, on 127.0.0.1 (default: 8080; 0: any free port)' },
  },
  allowPositionals: true,
});

function header(step: WalkStep): string {
  return `${step.name}  [${step.shape.join(',')}]  ${step.formula}`;
}

/** --input's text as numbers; the walkthrough checks their count. */
function parseInput(text: string): number[] {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  const numbers = parts.map(Number);
  const bad = numbers.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new UsageError(`--input: "${parts[bad]}" (value ${bad}) is not a number`);
  return numbers;
}

function settings(): Partial<WalkthroughOptions> {
  const o: Partial<WalkthroughOptions> = {};
  const temperature = numberOption(values, 'temperature');
  const K = numberOption(values, 'k');
  const groups = numberOption(values, 'groups');
  const seed = numberOption(values, 'seed');
  if (temperature !== undefined) o.temperature = temperature;
  if (K !== undefined) o.K = K;
  if (groups !== undefined) o.groups = groups;
  if (seed !== undefined) o.seed = seed;
  if (typeof values.input === 'string') o.input = parseInput(values.input);
  try {
    walkthroughOptions(o);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return o;
}

async function serve(): Promise<void> {
  const port = numberOption(values, 'port') ?? 8080;
  const server = await servePage(port);
  process.stdout.write(`${server.url}\n`);
  process.stderr.write('serving the SepBN teaching page; Ctrl-C stops\n');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
}

/** The walkthrough as JSON: what the page draws, for the same settings. */
async function printJson(backend: 'webgpu' | 'cpu', o: Partial<WalkthroughOptions>): Promise<void> {
  const steps = await sepBnWalkthrough(backend, o);
  const fused = await sepBnFusedComparison(backend, o);
  const resolved = walkthroughOptions(o);
  const json = {
    walkthrough: 'sepbn',
    backend,
    options: { ...resolved, input: resolved.input === undefined ? undefined : Array.from(resolved.input) },
    steps: steps.map((s) => ({
      ...s,
      values: Array.from(s.values),
      finiteDifference: s.finiteDifference && Array.from(s.finiteDifference),
    })),
    fused: fused.map((f) => ({ ...f, fused: Array.from(f.fused), composite: Array.from(f.composite) })),
  };
  process.stdout.write(JSON.stringify(json) + '\n');
}

runMain(async () => {
  if (positionals[0] !== 'sepbn' || positionals.length > 1) {
    throw new UsageError('usage: node cli/explain.js sepbn [options] (--help lists them); "sepbn" is the one walkthrough so far');
  }
  const given = (names: string[]) => names.filter((n) => values[n] !== undefined && values[n] !== false).map((n) => `--${n}`);
  if (values.serve) {
    const others = given(['brief', 'json', 'temperature', 'k', 'groups', 'seed', 'input']);
    if (others.length) throw new UsageError(`--serve takes only --port; the page has its own controls for ${others.join(', ')}`);
    return serve();
  }
  if (values.port !== undefined) throw new UsageError('--port goes with --serve');
  const o = settings();
  const backend = await openBackend(values.backend);
  if (values.json) return printJson(backend, o);
  const steps = await sepBnWalkthrough(backend, o);
  let cpuSteps: WalkStep[] | undefined;
  if (backend === 'webgpu') {
    await useBackend('cpu');
    cpuSteps = await sepBnWalkthrough('cpu', o);
  }
  let phase = '';
  for (const [i, step] of steps.entries()) {
    if (step.phase !== phase) {
      phase = step.phase;
      const title = { input: 'INPUTS AND PARAMETERS', forward: 'FORWARD (training mode)', backward: 'BACKWARD (the tape, last op first)' }[step.phase];
      process.stdout.write(`\n=== ${title} ===\n`);
    }
    const notes: string[] = [];
    if (step.finiteDifferenceError !== undefined) notes.push(`finite differences: max |tape - numeric| = ${step.finiteDifferenceError.toExponential(2)} ${step.finiteDifferenceError < 1e-5 ? 'ok' : 'MISMATCH'}`);
    if (cpuSteps) {
      const ref = cpuSteps[i].values;
      const diff = step.values.reduce((m, v, j) => Math.max(m, Math.abs(v - ref[j])), 0);
      notes.push(`webgpu vs cpu: max |difference| = ${diff.toExponential(2)}`);
    }
    process.stdout.write(`\n${header(step)}\n`);
    for (const note of notes) process.stdout.write(`  ${note}\n`);
    if (!values.brief) process.stdout.write(formatValues(step.values, step.shape, 4, '  ') + '\n');
  }
  const worst = Math.max(...steps.map((s) => s.finiteDifferenceError ?? 0));
  process.stdout.write(`\n${steps.filter((s) => s.phase === 'backward').length} gradients, largest finite-difference error ${worst.toExponential(2)}\n`);
  // After the summary line, so a reader of the steps above (and the commands test) sees them unchanged.
  if (backend === 'webgpu') await useBackend('webgpu');
  process.stdout.write(`\n=== FUSED KERNELS vs THE COMPOSITE OF PRIMITIVE OPS (sepBatchNormTrain, ${backend}) ===\n`);
  for (const f of await sepBnFusedComparison(backend, o)) process.stdout.write(`  ${f.name.padEnd(12)} [${f.shape.join(',')}]  max |fused - composite| = ${f.maxDifference.toExponential(2)}\n`);
  if (worst >= 1e-5) process.exitCode = 1;
});
