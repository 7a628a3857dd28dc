// node cli/explain.js sepbn: one SepBN layer on a tensor small enough to print, forward and
// backward, every gradient checked by finite differences.
import { formatValues } from '../engine/format.ts';
import { sepBnWalkthrough, WALKTHROUGH_DEFAULTS, type WalkStep } from '../engine/ops/sep-batch-norm/walkthrough.ts';
import { useBackend } from '../engine/backend.ts';
import { parseCommand } from './args.ts';
import { backendOptionDefaulting, openBackend, runMain, UsageError } from './main.ts';

const { values, positionals } = parseCommand({
  usage: 'node cli/explain.js sepbn [--backend webgpu|cpu] [--brief]',
  summary:
    `Walks through one SepBN layer (N=${WALKTHROUGH_DEFAULTS.N}, C=${WALKTHROUGH_DEFAULTS.C}, H=W=${WALKTHROUGH_DEFAULTS.H}, K=${WALKTHROUGH_DEFAULTS.K}, ` +
    `hidden=${WALKTHROUGH_DEFAULTS.hidden}): each forward intermediate,\n` +
    'then the gradient reaching each one in the order the tape runs them, each confirmed by central finite\n' +
    'differences taken at that intermediate. With --backend webgpu every value also comes from the GPU,\n' +
    'printed with its largest difference from the Float64 CPU reference. The maths: engine/ops/sep-batch-norm/derivation.md.',
  options: {
    backend: backendOptionDefaulting('cpu'),
    brief: { type: 'boolean', help: 'names, shapes and checks only, no values' },
  },
  allowPositionals: true,
});

function header(step: WalkStep): string {
  return `${step.name}  [${step.shape.join(',')}]  ${step.formula}`;
}

runMain(async () => {
  if (positionals[0] !== 'sepbn') throw new UsageError('usage: node cli/explain.js sepbn [--backend webgpu|cpu]; "sepbn" is the one walkthrough so far');
  const backend = await openBackend(values.backend);
  const steps = await sepBnWalkthrough(backend);
  let cpuSteps: WalkStep[] | undefined;
  if (backend === 'webgpu') {
    await useBackend('cpu');
    cpuSteps = await sepBnWalkthrough('cpu');
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
  if (worst >= 1e-5) process.exitCode = 1;
});
