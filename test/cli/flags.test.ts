// Every numeric flag is checked where it is parsed: the message names the flag and says what it
// accepts, integers where integers are meant, and the command exits 2 before doing any work.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NUMBER_FLAGS, numberFlagProblem, WIDTH_DIVISORS } from '../../cli/args.ts';
import { stageChannels } from '../../models/vanilla-cnn.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-flags-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('bad values are refused with the flag and what it accepts', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['epochs', '2.5', /^--epochs expects a positive integer, got "2\.5"$/],
    ['batch', '0', /^--batch expects a positive integer, got "0"$/],
    ['max-batches', '-3', /^--max-batches expects a positive integer/],
    ['lr', 'abc', /^--lr expects a number above 0, got "abc"$/],
    ['lr', '0', /^--lr expects a number above 0/],
    ['lr', '', /^--lr expects/],
    ['weight-decay', '-1e-4', /^--weight-decay expects a number >= 0/],
    ['warmup', 'Infinity', /^--warmup expects/],
    ['width', '3', /^--width expects one of 1, 2, 4, 8, 16, 32, 64 \(the channel counts 64\.\.2048 .*got "3"$/],
    ['width', '128', /^--width expects one of/],
    ['workers', '1.5', /^--workers expects an integer >= 0/],
    ['seed', '0.5', /^--seed expects an integer/],
    ['temperature', '-1', /^--temperature expects a number above 0/],
    ['count', '1', /^--count expects an integer of at least 2/],
    ['size', '12.5', /^--size expects a positive integer/],
    ['test-fraction', '1', /^--test-fraction expects a number strictly between 0 and 1/],
    ['steps', '0', /^--steps expects a positive integer/],
    ['top', 'ten', /^--top expects a positive integer/],
  ];
  for (const [name, raw, message] of cases) t.match(numberFlagProblem(name, raw), message, `--${name} ${raw}`);
});

t.test('good values pass', async (t) => {
  const cases: Array<[string, string]> = [['epochs', '3'], ['batch', '8'], ['lr', '1e-3'], ['weight-decay', '0'], ['warmup', '0.5'], ['width', '16'], ['workers', '0'], ['seed', '-7'], ['test-fraction', '0.25']];
  for (const [name, raw] of cases) t.equal(numberFlagProblem(name, raw), undefined, `--${name} ${raw}`);
});

t.test('a numeric flag without a rule is a programming error, not a silent pass', async (t) => {
  t.throws(() => numberFlagProblem('no-such-flag', '1'), /--no-such-flag has no entry in NUMBER_FLAGS/);
  t.ok(Object.keys(NUMBER_FLAGS).length > 10);
});

t.test('the widths --width accepts are exactly those the model builds', async (t) => {
  for (const width of WIDTH_DIVISORS) t.doesNotThrow(() => stageChannels(width), `width ${width}`);
  for (const width of [3, 5, 6, 12, 128]) {
    t.throws(() => stageChannels(width), `width ${width} is refused by the model`);
    t.not(numberFlagProblem('width', String(width)), undefined, `and by --width`);
  }
});

function node(args: string[]) {
  return spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
}

// --data points nowhere, so a command that let the flag through would fail later, differently;
// --out keeps any run folder inside the temporary one.
const missing = join(dir, 'missing');
const commands: Array<[string[], RegExp]> = [
  [['cli/train.js', '--backend', 'cpu', '--data', missing, '--out', join(dir, 'run'), '--epochs', '2.5'], /--epochs expects a positive integer, got "2\.5"/],
  [['cli/train.js', '--backend', 'cpu', '--data', missing, '--out', join(dir, 'run'), '--batch', '0'], /--batch expects a positive integer, got "0"/],
  [['cli/train.js', '--backend', 'cpu', '--data', missing, '--out', join(dir, 'run'), '--lr', 'abc'], /--lr expects a number above 0, got "abc"/],
  [['cli/train.js', '--backend', 'cpu', '--data', missing, '--out', join(dir, 'run'), '--width', '3'], /--width expects one of 1, 2, 4, 8, 16, 32, 64/],
  [['cli/summary.js', '--width', '3'], /--width expects one of 1, 2, 4, 8, 16, 32, 64/],
  [['cli/synth.js', '--out', join(dir, 'synth'), '--count', '2.5'], /--count expects an integer of at least 2/],
  [['cli/visualize.js', '--backend', 'cpu', '--weights', missing, '--out', join(dir, 'figures'), '--batch', '0'], /--batch expects a positive integer/],
  [['cli/grads.js', '--backend', 'cpu', '--model', 'sepbn', '--weights', missing, '--batch', missing, '--out', missing, '--width', '3'], /--width expects one of/],
  [['cli/bench.js', 'loader', '--data', missing, '--batches', '0'], /--batches expects a positive integer/],
];
for (const [args, message] of commands) {
  t.test(`node ${args.join(' ')}`, async (t) => {
    const run = node(args);
    t.equal(run.status, 2, `exit status 2: ${run.stderr}`);
    t.match(run.stderr, message);
    t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });
}
