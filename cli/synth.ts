#!/usr/bin/env node
// node cli/synth.js --out DIR --count N: a synthetic data set in the raw WFLW layout.
import { numberOption, parseCommand } from './args.ts';
import { Progress } from './progress.ts';
import { SYNTHETIC_DEFAULTS, writeSyntheticWflw } from '../data/synthetic-dataset.ts';

const spec = {
  usage: 'node cli/synth.js --out DIR --count N [--seed S] [--size PX] [--test-fraction F]',
  summary: 'Draws synthetic faces with the 98-point WFLW topology and writes them in the raw WFLW layout\n(WFLW_images/ and WFLW_annotations/), ready for cli/prepare.js.',
  options: {
    out: { type: 'string', value: 'DIR', help: 'output folder (the WFLW root)' },
    count: { type: 'string', value: 'N', default: '800', help: 'number of faces in all' },
    seed: { type: 'string', value: 'S', default: String(SYNTHETIC_DEFAULTS.seed), help: 'random seed' },
    size: { type: 'string', value: 'PX', default: String(SYNTHETIC_DEFAULTS.size), help: 'side of each square image, pixels' },
    'test-fraction': { type: 'string', value: 'F', default: String(SYNTHETIC_DEFAULTS.testFraction), help: 'share of the faces in the test split' },
  },
} as const;

const { values } = parseCommand(spec);
if (typeof values.out !== 'string') {
  process.stderr.write('--out DIR is required (see --help)\n');
  process.exit(2);
}
const count = numberOption(values, 'count')!;
const progress = new Progress('synth', count);
const split = writeSyntheticWflw(values.out, {
  count,
  seed: numberOption(values, 'seed'),
  size: numberOption(values, 'size'),
  testFraction: numberOption(values, 'test-fraction'),
  onProgress: (done) => progress.update(done),
});
process.stdout.write(`wrote ${split.train} train and ${split.test} test faces to ${values.out}\n`);
