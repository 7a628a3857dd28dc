// npm run mutants: plants each mutant of mutants.ts in a scratch copy of the repository, builds it
// and runs the tests named to kill it. A mutant is killed when the build or one of its tests fails,
// and SURVIVED when every one passes: then those tests do not check what they were written for.
// One line per mutant and a summary go to stdout, progress to stderr.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommand } from '../../cli/args.ts';
import { applyMutant, duplicateIds, mutantProblem, type Mutant } from './list.ts';
import { MUTANTS } from './mutants.ts';

const { values } = parseCommand({
  usage: 'npm run mutants [-- --only ID]',
  summary:
    'Plants each mutant of test/mutants/mutants.ts in a scratch copy of the working tree (a temporary folder,\n' +
    'removed after), builds it and runs the tap files named to kill it. First the same is done without any\n' +
    'mutant, so that a build or test that already fails is reported rather than counted as a kill. Exits 1\n' +
    'when a mutant survived or could not be run as listed.',
  options: {
    only: { type: 'string', value: 'ID', help: 'run this mutant alone' },
  },
  notes: `mutants: ${MUTANTS.map((m) => m.id).join(', ')}`,
});

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Ends the whole run with its message and no stack: Ctrl-C, or a tree no mutant can be judged on. */
class Stop extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** A child process run to its end, its output kept; Ctrl-C reaches it too and ends the whole run. */
function run(command: string, args: string[], cwd: string): { ok: boolean; stdout: string; output: string } {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.signal === 'SIGINT') throw new Stop('interrupted', 130);
  if (r.error) throw r.error;
  return { ok: r.status === 0, stdout: r.stdout, output: `${r.stdout}${r.stderr}` };
}

/** The working tree's files as git sees them: tracked, and new ones not ignored (tests being written). */
function workingTreeFiles(): Set<string> {
  const listed = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], root);
  if (!listed.ok) throw new Stop(`git ls-files failed in ${root}: ${listed.output}`, 1);
  // --cached still lists a tracked file deleted from the working tree.
  return new Set(listed.stdout.split('\0').filter((path) => path !== '' && existsSync(join(root, path)) && statSync(join(root, path)).isFile()));
}

/** Copies the files into a new temporary folder, with node_modules linked rather than copied. */
function scratchCopy(files: Set<string>): string {
  const scratch = mkdtempSync(join(tmpdir(), 'sepbn-mutant-'));
  for (const path of files) {
    mkdirSync(dirname(join(scratch, path)), { recursive: true });
    copyFileSync(join(root, path), join(scratch, path));
  }
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'), 'dir');
  return scratch;
}

function removeScratch(scratch: string): void {
  // The link first, so that nothing below can reach the real node_modules.
  unlinkSync(join(scratch, 'node_modules'));
  rmSync(scratch, { recursive: true, force: true });
}

function build(scratch: string): ReturnType<typeof run> {
  return run('npx', ['tsc', '-p', 'tsconfig.json'], scratch);
}

/** The first of `tests` that fails, run one tap process each so the report can name it; undefined when all pass. */
function firstFailing(scratch: string, tests: string[], label: string): { test: string; output: string } | undefined {
  for (const test of tests) {
    progress(`  ${label}: ${test}`);
    const r = run('npx', ['tap', '--reporter=tap', test], scratch);
    if (!r.ok) return { test, output: r.output };
  }
  return undefined;
}

/** The lines of tap output that say what failed, for a person reading the progress. */
function failureLines(output: string): string {
  return output.split('\n').filter((l) => /not ok|error|Error/.test(l)).slice(0, 20).join('\n');
}

type Verdict = { kind: 'killed' | 'SURVIVED' | 'broken'; detail: string };

/** Builds and tests the tree without mutants: what fails here cannot tell a mutant from the tree. */
function baseline(files: Set<string>, tests: string[]): Set<string> {
  progress(`baseline: the working tree without mutants, ${tests.length} test files`);
  const scratch = scratchCopy(files);
  try {
    const built = build(scratch);
    if (!built.ok) throw new Stop(`the working tree does not build, so no mutant can be judged:\n${built.output}`, 1);
    const failing = new Set<string>();
    for (const test of tests) {
      const failure = firstFailing(scratch, [test], 'baseline');
      if (failure) {
        progress(failureLines(failure.output));
        failing.add(test);
      }
    }
    return failing;
  } finally {
    removeScratch(scratch);
  }
}

function judge(m: Mutant, files: Set<string>): Verdict {
  const scratch = scratchCopy(files);
  try {
    const file = join(scratch, m.file);
    const mutated = applyMutant(readFileSync(file, 'utf8'), m);
    // The working tree is copied afresh for each mutant, and someone may have edited it meanwhile.
    if (mutated === undefined) return { kind: 'broken', detail: `the find text no longer occurs exactly once in ${m.file}` };
    writeFileSync(file, mutated);
    progress(`  ${m.id}: building`);
    const built = build(scratch);
    if (!built.ok) return { kind: 'killed', detail: 'the build fails' };
    const failure = firstFailing(scratch, m.tests, m.id);
    return failure ? { kind: 'killed', detail: `by ${failure.test}` } : { kind: 'SURVIVED', detail: `${m.tests.join(', ')} all pass` };
  } finally {
    removeScratch(scratch);
  }
}

function main(): number {
  // Without WebGPU the GPU checks skip, and a mutant they would kill would be reported as surviving.
  if (process.env.SEPBN_SKIP_GPU === '1') {
    process.stderr.write('npm run mutants: SEPBN_SKIP_GPU=1 skips the GPU checks, so survivors would mean nothing; unset it\n');
    return 2;
  }
  const duplicates = duplicateIds(MUTANTS);
  if (duplicates.length > 0) {
    process.stderr.write(`test/mutants/mutants.ts: ids listed twice: ${duplicates.join(', ')}\n`);
    return 2;
  }
  const selected = typeof values.only === 'string' ? MUTANTS.filter((m) => m.id === values.only) : MUTANTS;
  if (selected.length === 0) {
    process.stderr.write(`--only ${String(values.only)}: no such mutant; the mutants are ${MUTANTS.map((m) => m.id).join(', ')}\n`);
    return 2;
  }

  const files = workingTreeFiles();
  const read = (path: string) => (files.has(path) ? readFileSync(join(root, path), 'utf8') : undefined);
  const verdicts = new Map<string, Verdict>();
  const idWidth = Math.max(...MUTANTS.map((m) => m.id.length)) + 2;
  const report = (m: Mutant, verdict: Verdict) => {
    verdicts.set(m.id, verdict);
    process.stdout.write(`${verdict.kind.padEnd(9)}${m.id.padEnd(idWidth)}${m.description}: ${verdict.detail}\n`);
  };
  const runnable: Mutant[] = [];
  for (const m of selected) {
    const problem = mutantProblem(m, read);
    if (problem) report(m, { kind: 'broken', detail: problem });
    else runnable.push(m);
  }

  if (runnable.length > 0) {
    const failingWithout = baseline(files, [...new Set(runnable.flatMap((m) => m.tests))]);
    runnable.forEach((m, i) => {
      const failing = m.tests.filter((test) => failingWithout.has(test));
      if (failing.length > 0) return report(m, { kind: 'broken', detail: `${failing.join(', ')} already fails without the mutant` });
      progress(`[${i + 1}/${runnable.length}] ${m.id}: ${m.description}`);
      report(m, judge(m, files));
    });
  }

  const count = (kind: Verdict['kind']) => [...verdicts.values()].filter((v) => v.kind === kind).length;
  process.stdout.write(`mutants ${verdicts.size}: ${count('killed')} killed, ${count('SURVIVED')} survived, ${count('broken')} broken\n`);
  return count('SURVIVED') + count('broken') > 0 ? 1 : 0;
}

// Ctrl-C reaches the running child as well: this process outlives it, to remove its scratch copy.
process.on('SIGINT', () => {});
try {
  process.exitCode = main();
} catch (err) {
  if (!(err instanceof Stop)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exitCode = err.exitCode;
}
