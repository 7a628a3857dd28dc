#!/usr/bin/env node
// node cli/convert.js: a PyTorch .pth state dict (the paper's released checkpoints) to a
// safetensors file with the same names, read without Python and without running anything in it,
// and checked against the network it holds before a byte is written.
import { basename, resolve } from 'node:path';
import { isModelName, MODEL_NAMES, modelNameOf, type ModelName } from '../models/registry.ts';
import { loadWeights } from '../models/weights.ts';
import { writeSafetensors, type NamedArray } from '../nn/safetensors.ts';
import { FORMAT_NAMES, weightsFileFormat } from '../nn/weights-file.ts';
import { numberOption, parseCommand } from './args.ts';
import { openBackend, runMain, UsageError } from './main.ts';

const { values, positionals } = parseCommand({
  usage: 'node cli/convert.js IN.pth OUT.safetensors [--model baseline|sepbn|bn] [--width W]',
  summary:
    'Converts a PyTorch state dict (torch.save(model.state_dict(), ...), the zip format of PyTorch 1.6+ or the\n' +
    'legacy one) to safetensors with the same tensor names, which every command here and\n' +
    'safetensors.torch.load_file read. The .pth is read without Python: its pickle is interpreted, never run,\n' +
    'and anything in it but a state dict\'s tensors (a global such as os.system) stops the conversion. A\n' +
    '"module." prefix (nn.DataParallel) is stripped and a {"state_dict": ...} or {"model": ...} wrapper\n' +
    'unwrapped; floating tensors are written as float32, num_batches_tracked as int64. The names and shapes\n' +
    'are checked against the network first (inferred from the names and conv1.weight unless given), and\n' +
    'OUT is written atomically: on any error no file is left.',
  options: {
    model: { type: 'string', value: MODEL_NAMES.join('|'), help: 'the network to check against (default: what the tensor names say)' },
    width: { type: 'string', value: 'W', help: "width divisor (default: 64 / conv1.weight's output channels)" },
  },
  allowPositionals: true,
});

/** "55 float32, 1 float64, 6 int64": how many tensors of each type, in the file's own terms. */
function countTypes(types: Iterable<string>): string {
  const counts = new Map<string, number>();
  for (const t of types) counts.set(t, (counts.get(t) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([t, n]) => `${n} ${t}`).join(', ');
}

async function convert(): Promise<void> {
  if (positionals.length !== 2) throw new UsageError(`give the .pth to read and the .safetensors to write (got ${positionals.length} file names); see --help`);
  const [input, output] = positionals.map((f) => resolve(f));
  if (input === output) throw new UsageError(`${input}: the output would overwrite the input; give another OUT`);
  const model = values.model;
  if (model !== undefined && !isModelName(model)) throw new UsageError(`--model must be one of ${MODEL_NAMES.join(', ')}, got "${String(model)}"`);
  if (weightsFileFormat(input) === 'safetensors') throw new UsageError(`${input} is already a safetensors file (it does not start like a .pth); nothing to convert`);
  // The network is built only to check names and shapes against: the CPU reference serves, with no GPU needed.
  await openBackend('cpu');
  const loaded = loadWeights(input, { model: model as ModelName | undefined, width: numberOption(values, 'width') });
  const { weights } = loaded;
  const config = loaded.model.config;
  const lines = [
    `read ${input}: ${FORMAT_NAMES[weights.format]}, ${weights.tensors.size} tensors (${countTypes(weights.fileDtypes.values())})`,
    ...weights.notes.map((note) => `  ${note}`),
    `matches ${modelNameOf(config)} at width 1/${config.width}${loaded.evidence ? ` (${loaded.evidence})` : ' (--model and --width)'}: every name and shape checked`,
  ];
  // The model's own order (PyTorch's state_dict order), each tensor as read: floats already float32, counters int64.
  const tensors = loaded.model.stateDict().map(([name]): [string, NamedArray] => [name, weights.tensors.get(name)!]);
  writeSafetensors(output, tensors, { converted_from: basename(input), source_format: FORMAT_NAMES[weights.format] });
  lines.push(`wrote ${output}: ${tensors.length} tensors (${countTypes(tensors.map(([, t]) => t.dtype))})`);
  process.stdout.write(lines.join('\n') + '\n');
}

// Problems with the files given (unreadable, refused, not the network asked for) print as one line (runMain).
runMain(convert);
