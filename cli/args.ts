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

/** Reads a numeric option, exiting with a message that names the flag when it is not a number. */
export function numberOption(values: Parsed['values'], name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n)) {
    process.stderr.write(`--${name} expects a number, got "${String(raw)}"\n`);
    process.exit(2);
  }
  return n;
}
