// What cli/train.js does with the folders and settings it is given: a new run refuses a folder
// holding a run unless --overwrite, an unusable --out is refused at once, --resume goes on in the
// checkpoint's own folder, the data folder is stored absolute and --data may move it, --epochs may
// extend the run, and any other setting that differs from the checkpoint's is refused by name.
// CPU backend, width 64, one step an epoch: each run takes seconds.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSyntheticDataset } from '../../data/synthetic-dataset.ts';
import { readSafetensors } from '../../nn/safetensors.ts';

const train = fileURLToPath(new URL('../../cli/train.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-train-guards-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const data = ensureSyntheticDataset(dir, { train: 8, test: 4, size: 96, seed: 4 });
// Commands run from an empty folder of their own, so a default run folder would show up there.
const cwd = join(dir, 'cwd');
mkdirSync(cwd);

const small = ['--backend', 'cpu', '--workers', '1', '--width', '64', '--batch', '2', '--max-batches', '1'];

function node(args: string[]) {
  const r = spawnSync(process.execPath, [train, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, signal: r.signal, stderr: r.stderr.split('\n').filter((l) => !l.startsWith('Warning:') && !l.startsWith('warning:')).join('\n') };
}

/** Every file of a folder, byte for byte. */
function snapshot(folder: string): Map<string, Buffer> {
  return new Map(readdirSync(folder).map((f) => [f, readFileSync(join(folder, f))]));
}

const logOf = (out: string) => readFileSync(join(out, 'log.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const runOf = (out: string) => JSON.parse(readSafetensors(join(out, 'last.safetensors')).metadata.run);

/** A finished two-epoch run in its own folder. */
function finishedRun(t: Test, name: string, flags: string[] = []): string {
  const out = join(dir, name);
  const run = node([...small, '--data', data, '--epochs', '2', '--out', out, ...flags]);
  t.equal(run.status, 0, run.stderr);
  return out;
}

/** A command that must refuse before training: status 1, a message holding every part, nothing changed in `folder`. */
function refused(t: Test, args: string[], parts: string[], folder?: string): void {
  const before = folder && snapshot(folder);
  const run = node(args);
  t.equal(run.status, 1, `exit status 1: ${run.stderr}`);
  for (const part of parts) t.ok(run.stderr.includes(part), `the message names ${part}: ${run.stderr.trim()}`);
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
  if (folder && before) t.same(snapshot(folder), before, `${folder}: every file as it was`);
}

t.test('a new run into a folder that holds a run is refused; --overwrite replaces it', async (t) => {
  const out = finishedRun(t, 'taken');
  const again = [...small, '--data', data, '--epochs', '2', '--out', out, '--seed', '7'];
  refused(t, again, [`${out} already holds a run`, `--resume ${join(out, 'last.safetensors')}`, '--overwrite'], out);
  // A log alone (a run killed before its first checkpoint) is a run too.
  const logOnly = join(dir, 'log-only');
  mkdirSync(logOnly);
  writeFileSync(join(logOnly, 'log.jsonl'), '');
  refused(t, [...small, '--data', data, '--out', logOnly], [`${logOnly} already holds a run`], logOnly);

  const replaced = node([...again, '--overwrite']);
  t.equal(replaced.status, 0, replaced.stderr);
  t.same(logOf(out).map((l) => l.epoch), [1, 2], 'the log of the new run only');
  t.equal(runOf(out).seed, 7, 'the checkpoint of the new run');
  t.same(readdirSync(cwd), [], 'nothing written where the command ran');
});

t.test('an --out that cannot be a folder is refused at once', async (t) => {
  refused(t, [...small, '--data', data, '--out', '/proc/sepbn-run'], ['--out /proc/sepbn-run', 'cannot write in /proc']);
  const file = join(dir, 'a-file');
  writeFileSync(file, 'not a folder');
  refused(t, [...small, '--data', data, '--out', join(file, 'run')], [`--out ${join(file, 'run')}`, `${file} is not a folder`]);
  t.equal(readFileSync(file, 'utf8'), 'not a folder', 'the file is left alone');
});

t.test('a warm-up as long as the run is refused before the data are read, naming both flags', async (t) => {
  const out = join(dir, 'no-cosine');
  // A data folder that does not exist: the warm-up must be refused before anyone looks for it.
  refused(t, [...small, '--data', join(dir, 'nowhere'), '--epochs', '3', '--warmup', '3', '--out', out], ['a warm-up of 3 epochs (--warmup) leaves no cosine in a schedule of 3 epochs (--epochs)']);
  refused(t, [...small, '--data', join(dir, 'nowhere'), '--warmup', '5', '--out', out], ['--warmup', '--epochs']);
  t.notOk(existsSync(out), 'no run folder made');
});

t.test('--resume goes on in the checkpoint folder, mends the log; --epochs extends the run', async (t) => {
  const out = finishedRun(t, 'extended');
  // The log as kills leave it: epoch 2's line still pending (killed after its checkpoint), and
  // lines of an epoch logged twice and of an epoch past the checkpoint.
  const [one, two] = readFileSync(join(out, 'log.jsonl'), 'utf8').split('\n');
  writeFileSync(join(out, 'log.jsonl'), [one, one, '{"epoch":3,"stale":true}', ''].join('\n'));
  writeFileSync(join(out, 'log-pending.json'), two + '\n');
  // The writability probe of a start killed while checking --out, by a process now gone.
  const probe = join(out, `.write-test.tmp-${spawnSync(process.execPath, ['-e', '']).pid}-x`);
  writeFileSync(probe, '');
  const run = node(['--backend', 'cpu', '--workers', '1', '--resume', join(out, 'last.safetensors'), '--epochs', '3']);
  t.equal(run.status, 0, run.stderr);
  const log = logOf(out);
  t.same(log.map((l) => l.epoch), [1, 2, 3], 'the third epoch appended to the run');
  t.same(log.slice(0, 2), [JSON.parse(one), JSON.parse(two)], 'the pending line of epoch 2 logged once, epoch 1 once');
  t.notOk(log[2].stale, 'the stale line past the checkpoint dropped');
  t.notOk(existsSync(join(out, 'log-pending.json')), 'nothing pending once logged');
  t.notOk(existsSync(probe), 'the dead start\'s probe removed');
  t.equal(runOf(out).epochs, 3, 'the checkpoint records the longer run');
  t.same(readdirSync(cwd), [], 'no default run folder made where the command ran');
});

t.test('settings given with --resume that differ from the checkpoint are refused by name', async (t) => {
  const out = finishedRun(t, 'fixed');
  const resume = ['--backend', 'cpu', '--workers', '1', '--resume', join(out, 'last.safetensors')];
  refused(t, [...resume, '--lr', '0.5'], ['--lr 0.5', "the checkpoint's 0.001"], out);
  refused(t, [...resume, '--model', 'baseline'], ['--model baseline', "the checkpoint's sepbn"], out);
  refused(t, [...resume, '--max-batches', '3'], ['--max-batches 3', "the checkpoint's 1"], out);
  refused(t, [...resume, '--epochs', '1'], ['--epochs 1', 'only be extended', '2 epochs'], out);
  refused(t, [...resume, '--overwrite'], ['--overwrite', '--resume'], out);
  // The same values as the checkpoint's are no change.
  const same = node([...resume, '--lr', '1e-3', '--width', '64', '--epochs', '2']);
  t.equal(same.status, 0, same.stderr);
  t.same(logOf(out).map((l) => l.epoch), [1, 2], 'a finished run stays finished');
});

t.test('the data folder is stored absolute, and --data moves it on resume', async (t) => {
  const first = join(dir, 'faces-here');
  cpSync(data, first, { recursive: true });
  const out = join(dir, 'moved');
  const run = node([...small, '--data', relative(cwd, first), '--epochs', '3', '--out', out]);
  t.equal(run.status, 0, run.stderr);
  t.equal(runOf(out).data, first, 'the absolute path of the data, not the name given');
  const moved = join(dir, 'faces-there');
  renameSync(first, moved);
  const resume = ['--backend', 'cpu', '--workers', '1', '--resume', join(out, 'last.safetensors'), '--epochs', '4'];
  refused(t, resume, [first], out);
  const resumed = node([...resume, '--data', moved]);
  t.equal(resumed.status, 0, resumed.stderr);
  t.equal(runOf(out).data, moved, 'the checkpoint records where the data is now');
  t.same(logOf(out).map((l) => l.epoch), [1, 2, 3, 4]);
  t.ok(!existsSync(first), 'the old folder stays gone');
});
