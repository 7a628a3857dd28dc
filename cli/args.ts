// One options table per command: it drives node:util parseArgs and prints --help, so the two never drift.
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  default?: string | boolean;
  /** Shown after the flag in --help, e.g. "DIR". */
  value?: string;
  help: string;
  multiple?: boolean;
}

export type OptionTable = Record<string, OptionSpec>;

export interface CommandSpec {
  usage: string;
  summary: string;
  options: OptionTable;
  /** Extra paragraphs printed after the options. */
  notes?: string;
  allowPositionals?: boolean;
}

export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = `--${name}${o.value ? ' ' + o.value : ''}${o.short ? `, -${o.short}` : ''}`;
    const dflt = o.default !== undefined && o.default !== false ? ` (default: ${o.default})` : '';
    return [flag, o.help + dflt] as const;
  });
  rows.push(['--help, -h', 'print this help and exit']);
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  const lines = [`usage: ${spec.usage}`, '', spec.summary, '', 'options:'];
  for (const [f, h] of rows) lines.push(`  ${f.padEnd(width)}${h}`);
  if (spec.notes) lines.push('', spec.notes);
  return lines.join('\n') + '\n';
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Parses argv against the table; prints help and exits on --help; exits 2 with a message on bad flags. */
export function parseCommand(spec: CommandSpec, argv = process.argv.slice(2)): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, o] of Object.entries(spec.options)) {
    // parseArgs rejects keys that are present but undefined, so copy only the ones given.
    const option: (typeof options)[string] = { type: o.type };
    if (o.short !== undefined) option.short = o.short;
    if (o.multiple !== undefined) option.multiple = o.multiple;
    if (o.default !== undefined) option.default = o.default;
    options[name] = option;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: spec.allowPositionals ?? false, strict: true });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${helpText(spec)}`);
    process.exit(2);
  }
  if (parsed.values.help) {
    process.stdout.write(helpText(spec));
    process.exit(0);
  }
  return { values: parsed.values as Parsed['values'], positionals: parsed.positionals };
}

/** What a numeric flag accepts, and how to say so. */
export interface NumberRule {
  accepts: (n: number) => boolean;
  /** Completes "--name expects ...". */
  expects: string;
}

const positiveInteger: NumberRule = { accepts: (n) => Number.isInteger(n) && n >= 1, expects: 'a positive integer' };
const positive: NumberRule = { accepts: (n) => n > 0, expects: 'a number above 0' };
const nonNegative: NumberRule = { accepts: (n) => n >= 0, expects: 'a number >= 0' };

/**
 * The width divisors the Vanilla CNN accepts: every channel count (64..2048) and the fc1 width
 * (2048) are multiples of 64, so the divisors of 64 are exactly the widths that leave whole
 * channel counts (models/vanilla-cnn.ts stageChannels; the flags test holds the two together).
 */
export const WIDTH_DIVISORS = [1, 2, 4, 8, 16, 32, 64] as const;

/**
 * Every numeric flag of every command, by name: a flag means the same thing wherever it appears
 * (--batch is a batch size, --width the width divisor), so one table checks them all where they
 * are parsed.
 */
export const NUMBER_FLAGS: Record<string, NumberRule> = {
  epochs: positiveInteger,
  batch: positiveInteger,
  'max-batches': positiveInteger,
  batches: positiveInteger,
  steps: positiveInteger,
  rounds: positiveInteger,
  top: positiveInteger,
  workers: { accepts: (n) => Number.isInteger(n) && n >= 0, expects: 'an integer >= 0 (0: on the main thread)' },
  width: {
    accepts: (n) => (WIDTH_DIVISORS as readonly number[]).includes(n),
    expects: `one of ${WIDTH_DIVISORS.join(', ')} (the channel counts 64..2048 are divided by it and must stay whole)`,
  },
  lr: positive,
  'weight-decay': nonNegative,
  warmup: nonNegative,
  'schedule-epochs': positiveInteger,
  temperature: positive,
  seed: { accepts: Number.isInteger, expects: 'an integer' },
  k: positiveInteger,
  groups: positiveInteger,
  sets: positiveInteger,
  ratio: positive,
  'temperature-start': positive,
  'temperature-end': positive,
  'temperature-step': nonNegative,
  port: { accepts: (n) => Number.isInteger(n) && n >= 0 && n <= 65535, expects: 'an integer from 0 to 65535 (0: any free port)' },
  count: { accepts: (n) => Number.isInteger(n) && n >= 2, expects: 'an integer of at least 2 (one face for each split)' },
  size: positiveInteger,
  'test-fraction': { accepts: (n) => n > 0 && n < 1, expects: 'a number strictly between 0 and 1' },
};

/** Why the text given for --name is not acceptable, or undefined when it is. */
export function numberFlagProblem(name: string, raw: string): string | undefined {
  const rule = NUMBER_FLAGS[name];
  // A programming error, not a user's: every numeric flag must have its rule above.
  if (!rule) throw new Error(`--${name} has no entry in NUMBER_FLAGS (cli/args.ts)`);
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || !rule.accepts(n)) return `--${name} expects ${rule.expects}, got "${raw}"`;
  return undefined;
}

/** Reads a numeric option, exiting with a message that names the flag and what it accepts when the value is not acceptable. */
export function numberOption(values: Parsed['values'], name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const problem = typeof raw === 'string' ? numberFlagProblem(name, raw) : `--${name} expects one number, got "${String(raw)}"`;
  if (problem) {
    process.stderr.write(`${problem}\n`);
    process.exit(2);
  }
  return Number(raw);
}
