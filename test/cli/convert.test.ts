// node cli/convert.js on PyTorch's own files (test/fixtures/make-pth.py): both networks, both
// container formats, "module." names and wrappers, each written out with every tensor equal to
// PyTorch's float32 bit for bit, and what it read said on stdout. Every refusal exits 1 with one
// line naming the file and the global, opcode or problem, and leaves no file behind, not even a
// temporary one. CPU only: the network is built to check names and shapes, nothing runs on it.
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, type NamedArray } from '../../nn/safetensors.ts';
import { runCommand } from './run-command.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/pth/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-convert-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const bytesOf = (a: NamedArray) => Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
const reference = readSafetensors(FIXTURES + 'sepbn-w64.safetensors').tensors;

t.test('--help shows the usage and what the conversion does', async (t) => {
  const help = runCommand(['cli/convert.js', '--help']);
  t.equal(help.status, 0);
  t.match(help.stdout, /usage: node cli\/convert\.js IN\.pth OUT\.safetensors \[--model baseline\|sepbn\|bn\] \[--width W\]/);
  t.match(help.stdout, /interpreted, never run/);
  t.match(help.stdout, /--width W/);
});

const cases: Array<{ file: string; model: string; format: string; notes: RegExp[] }> = [
  { file: 'sepbn-w64.pth', model: 'sepbn', format: 'zip archive', notes: [] },
  { file: 'sepbn-w64-legacy.pth', model: 'sepbn', format: 'legacy stream', notes: [/stripped the "module\." prefix/] },
  { file: 'baseline-w64.pth', model: 'baseline', format: 'zip archive', notes: [/"state_dict" entry/, /"module\." prefix/] },
  { file: 'baseline-w64-legacy.pth', model: 'baseline', format: 'legacy stream', notes: [/"model" entry/] },
];

for (const { file, model, format, notes } of cases) {
  t.test(`${file} converts bit for bit`, async (t) => {
    const out = join(dir, file.replace(/\.pth$/, '.safetensors'));
    const run = runCommand(['cli/convert.js', FIXTURES + file, out]);
    t.equal(run.status, 0, run.stderr);
    const written = readSafetensors(out).tensors;
    const expected = [...reference].filter(([name]) => model === 'sepbn' || !name.startsWith('bn'));
    t.equal(written.size, expected.length, `${expected.length} tensors`);
    const differing = expected.filter(([name, want]) => {
      const have = written.get(name);
      return !have || have.dtype !== want.dtype || have.shape.join() !== want.shape.join() || !bytesOf(have).equals(bytesOf(want));
    });
    t.same(differing.map(([name]) => name), [], "every tensor equals PyTorch's float32 (or int64) bit for bit");
    t.match(run.stdout, new RegExp(`^read .*${file}: PyTorch \\.pth \\(${format}\\), ${expected.length} tensors \\(`, 'm'), 'says what it read');
    if (model === 'sepbn') t.match(run.stdout, /1 float64, 1 float16, 1 bfloat16/, 'and in which element types');
    for (const note of notes) t.match(run.stdout, note);
    t.match(run.stdout, new RegExp(`^matches ${model} at width 1/64 \\(inferred ${model} from .*, width 1/64 from conv1\\.weight \\[1,3,3,3\\]\\)`, 'm'), 'and the network it matches');
    t.match(run.stdout, new RegExp(`^wrote .*: ${expected.length} tensors \\(`, 'm'));
  });
}

t.test('--model and --width given are checked, not inferred', async (t) => {
  const out = join(dir, 'given.safetensors');
  const run = runCommand(['cli/convert.js', FIXTURES + 'sepbn-w64.pth', out, '--model', 'sepbn', '--width', '64']);
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, /^matches sepbn at width 1\/64 \(--model and --width\)/m);
});

/** A conversion that must fail: exit 1, a first line naming the input and each part, and nothing written in the output folder. */
function refused(t: Test, args: string[], input: string, parts: string[]): void {
  const folder = join(dir, `refused-${Math.random().toString(36).slice(2)}`);
  mkdirSync(folder);
  const out = join(folder, 'out.safetensors');
  const run = runCommand(['cli/convert.js', input, out, ...args]);
  t.equal(run.status, 1, 'exit status 1');
  const first = run.stderr.split('\n')[0];
  for (const part of [input, ...parts]) t.ok(first.includes(part), `the message says ${part}: ${first}`);
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
  t.same(readdirSync(folder), [], 'no output file, not even a temporary one');
}

t.test('a pickle that would call os.system is refused, naming the global', async (t) => {
  refused(t, [], FIXTURES + 'hostile/os-system.pth', ['refused, nothing in it was run', 'os.system']);
});

t.test('a legacy file that would call builtins.eval is refused, naming the global', async (t) => {
  refused(t, [], FIXTURES + 'hostile/eval-legacy.pth', ['refused, nothing in it was run', 'builtins.eval']);
});

t.test('a truncated file is refused as truncated', async (t) => {
  refused(t, [], FIXTURES + 'hostile/truncated.pth', ['truncated']);
});

t.test('weights of another network are refused with what does not match', async (t) => {
  refused(t, ['--model', 'baseline'], FIXTURES + 'sepbn-w64.pth', ['bn1.bn.0.weight']);
});

t.test('a safetensors input has nothing to convert', async (t) => {
  refused(t, [], FIXTURES + 'sepbn-w64.safetensors', ['already a safetensors file']);
});

t.test('two file names are required', async (t) => {
  const run = runCommand(['cli/convert.js', FIXTURES + 'sepbn-w64.pth']);
  t.equal(run.status, 1);
  t.match(run.stderr, /give the \.pth to read and the \.safetensors to write \(got 1 file names\)/);
});
