// Bad data stops `node cli/train.js` with a message and no stack trace: a missing test image before
// the first step (it used to surface after a whole epoch), and on WebGPU a training image whose
// header is fine but whose pixels are corrupt (it used to end in a DOMException [AbortError] trace
// after the message, from the step left in flight when the device was destroyed).
import t from 'tap';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpuSkipped } from '../gpu.ts';
import { runCommand } from './run-command.ts';

const dir = mkdtempSync(join(tmpdir(), 'sepbn-bad-data-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const clean = join(dir, 'faces256');

const node = runCommand;

const train = (data: string, ...more: string[]) =>
  node(['cli/train.js', '--data', data, '--width', '64', '--batch', '4', '--epochs', '1', '--max-batches', '6', '--workers', '1', '--out', join(dir, 'out'), ...more]);

/** A copy of the clean folder, and the image of a line (1-based) of one of its lists. */
function copy(name: string) {
  const data = join(dir, name);
  cpSync(clean, data, { recursive: true });
  const image = (list: string, line: number) => join(data, readFileSync(join(data, list), 'utf8').split('\n')[line - 1].trim().split(/\s+/).at(-1)!);
  return { data, image };
}

t.before(() => {
  const synth = node(['cli/synth.js', '--out', join(dir, 'raw'), '--count', '32', '--seed', '4']);
  if (synth.status !== 0) throw new Error(synth.stderr);
  const prepared = node(['cli/prepare.js', '--wflw', join(dir, 'raw'), '--out', clean]);
  if (prepared.status !== 0) throw new Error(prepared.stderr);
});

t.test('a missing test image stops the run before its first step', async (t) => {
  const { data, image } = copy('missing');
  rmSync(image('test.txt', 3));
  const r = train(data, '--backend', 'cpu');
  t.equal(r.status, 1);
  t.match(r.stderr, new RegExp(`the data has 1 problem.*\\n  ${join(data, 'test.txt')}:3: .*: no such file`));
  t.notMatch(r.stderr, /epoch 1|training sepbn/, 'no training began');
  t.notMatch(r.stderr, /\n\s+at |error:/, 'no stack trace, no hint of one');
});

t.test('WebGPU: a training image corrupt past its header gives its message and no DOMException', async (t) => {
  if (gpuSkipped(t)) return;
  const { data, image } = copy('corrupt');
  // Every fourth image keeps its PNG signature, header and end but loses its compressed pixels, so
  // the header check passes it and the loader fails on it, after the first batch's step is in flight.
  for (const line of [5, 9, 13, 17, 21]) {
    const bytes = readFileSync(image('train.txt', line));
    bytes.fill(0, 60, bytes.length - 20);
    writeFileSync(image('train.txt', line), bytes);
  }
  const r = train(data);
  t.equal(r.status, 1);
  t.match(r.stderr, /corrupt or unsupported image: .*\(referenced from .*train\.txt:\d+\)/);
  t.notMatch(r.stderr, /DOMException|AbortError|\n\s+at /, `no trace after the message: ${r.stderr}`);
});
