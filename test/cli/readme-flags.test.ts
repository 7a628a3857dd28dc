// The README follows the commands: every flag each command's --help lists (each benchmark's too)
// appears in README.md in an entry that names that command: a table row, a list item, a paragraph
// or a line of a code block holding `cli/NAME.js` (`cli/bench.js NAME` for a benchmark). A flag
// added to a command and not to the README fails here, naming both. And each warning Dawn prints
// when a device opens, which no command can filter, is explained in the README and by
// node cli/device.js.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gpuSkipped } from '../gpu.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(new URL('README.md', `file://${root}`), 'utf8');

/** README.md cut into entries: each table row, list item (with its wrapped lines), paragraph, and code-block line. */
function readmeEntries(text: string): string[] {
  const entries: string[] = [];
  let current: string[] = [];
  let inCode = false;
  const close = () => {
    if (current.length) entries.push(current.join('\n'));
    current = [];
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) {
      close();
      inCode = !inCode;
    } else if (inCode || line.startsWith('|')) {
      close();
      entries.push(line);
    } else if (line.trim() === '' || /^#+ /.test(line)) {
      close();
    } else {
      if (/^\s*([-*]|\d+\.) /.test(line)) close();
      current.push(line);
    }
  }
  close();
  return entries;
}

/** The flags in the options part of a --help text, without --help itself. */
function helpFlags(help: string): string[] {
  const options = help.split(/^options:$/m)[1] ?? '';
  return [...options.matchAll(/^ {2}--([a-z][a-z0-9-]*)/gm)].map((m) => m[1]).filter((f) => f !== 'help');
}

function help(args: string[]): string {
  const r = spawnSync(process.execPath, [...args, '--help'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} --help exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const entries = readmeEntries(readme);

// Every command the package installs (package.json's bin), so a new command is covered unasked.
const bin = JSON.parse(readFileSync(new URL('package.json', `file://${root}`), 'utf8')).bin as Record<string, string>;
const commands = Object.values(bin).sort();

/** The flags (as "--name") in no entry that names `name` (e.g. "cli/train.js", "cli/bench.js train") as a word. */
function missingFlags(among: string[], name: string, flags: string[]): string[] {
  const naming = among.filter((e) => new RegExp(`${escape(name)}(?![\\w.-])`).test(e));
  return flags.filter((flag) => !naming.some((e) => new RegExp(`(^|[^\\w-])--${escape(flag)}(?![\\w-])`).test(e))).map((f) => `--${f}`);
}

function checkFlags(t: Test, name: string, flags: string[]): void {
  t.same(missingFlags(entries, name, flags), [], `every flag of node ${name} --help is in a README.md entry naming ${name}`);
}

t.test('the README entry parser', async (t) => {
  const parsed = readmeEntries(['# Title', '', 'a paragraph', 'wrapped', '', '- item one', '  wrapped', '- item two', '| a | b |', '```sh', 'node x', '```'].join('\n'));
  t.same(parsed, ['a paragraph\nwrapped', '- item one\n  wrapped', '- item two', '| a | b |', 'node x']);
  t.same(helpFlags('usage: x\n\noptions:\n  --data DIR   where\n  --json       print\n  --help, -h   help\n\n--not-an-option'), ['data', 'json']);
});

t.test('a flag counts only in an entry naming its command', async (t) => {
  const among = ['| `node cli/x.js [--a] [--a-b]` | does x |', '- `node cli/y.js --b` does y', 'cli/x.jsm takes --c'];
  t.same(missingFlags(among, 'cli/x.js', ['a', 'b', 'c', 'a-b']), ['--b', '--c'], "--b is only in y's entry, --c in one naming another file");
  t.same(missingFlags(among, 'cli/x.js', ['a-']), ['--a-'], 'a flag is matched whole');
  t.same(missingFlags(among, 'cli/z.js', ['a']), ['--a'], 'a command no entry names has every flag missing');
});

for (const file of commands) {
  const name = file;
  t.test(`node ${name}`, async (t) => {
    const text = help([file]);
    const flags = helpFlags(text);
    if (name === 'cli/bench.js') {
      // The benchmarks are subcommands, each with its own --help and its own README bullet.
      const names = [...(text.split(/^benchmarks:$/m)[1] ?? '').matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]);
      t.ok(names.length > 0, 'bench --help lists its benchmarks');
      for (const benchmark of names) checkFlags(t, `cli/bench.js ${benchmark}`, helpFlags(help([file, benchmark])));
      return;
    }
    t.ok(flags.length > 0, `${name} --help lists flags`);
    checkFlags(t, name, flags);
  });
}

t.test("Dawn's start-up warnings are explained in the README and by node cli/device.js", async (t) => {
  if (gpuSkipped(t)) return;
  const r = spawnSync(process.execPath, ['cli/device.js'], { cwd: root, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const [dawn, ours] = [r.stderr.split('\n').filter((l) => l.startsWith('Warning:')), r.stderr.split('\n').filter((l) => !l.startsWith('Warning:')).join('\n')];
  // The limit each warning names; a driver without them (most hardware ones) prints none.
  const limits = dawn.map((l) => /^Warning: (\w+)/.exec(l)?.[1] ?? l);
  for (const limit of limits) {
    t.match(readme, limit, `README.md explains ${limit}`);
    t.match(ours, limit, `node cli/device.js explains ${limit}`);
  }
  t.match(ours, /cannot be filtered/, 'the note says why they are still printed');
});
