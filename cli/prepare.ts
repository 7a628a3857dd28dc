#!/usr/bin/env node
// node cli/prepare.js --wflw ROOT --out DIR: raw WFLW -> 256x256 crops in the WFLW256 layout.
import { parseCommand } from './args.ts';
import { Progress } from './progress.ts';
import { prepareWflw } from '../data/prepare.ts';

const spec = {
  usage: 'node cli/prepare.js --wflw ROOT --out DIR [--interp nearest|bilinear]',
  summary: 'Crops every WFLW face to 256x256 (the face box squared on its long side, twice its size around its\ncentre, zero padding) and writes the WFLW256 annotation files: 98 x, 98 y, image path.',
  options: {
    wflw: { type: 'string', value: 'ROOT', help: 'WFLW root holding WFLW_images/ and WFLW_annotations/' },
    out: { type: 'string', value: 'DIR', help: 'output folder' },
    interp: { type: 'string', value: 'MODE', default: 'nearest', help: 'resampling: nearest (as the reference) or bilinear' },
  },
  notes: [
    'writes:',
    '  DIR/train.txt, DIR/test.txt          all faces of each split',
    '  DIR/test_<attribute>.txt             test faces flagged pose, expression, illumination, makeup, occlusion, blur',
    '  DIR/images/<split>/<folder>/<name>_<line>.png   the crops (line: of the raw annotation file)',
    '  DIR/prepared.json                    counts and settings, written last',
    'Crops already on disk are kept. Bad lines and unreadable images are reported by file and line and left',
    'out; the exit status is then 1.',
  ].join('\n'),
} as const;

const { values } = parseCommand(spec);
if (typeof values.wflw !== 'string' || typeof values.out !== 'string') {
  process.stderr.write('--wflw ROOT and --out DIR are required (see --help)\n');
  process.exit(2);
}
if (values.interp !== 'nearest' && values.interp !== 'bilinear') {
  process.stderr.write(`--interp expects nearest or bilinear, got "${String(values.interp)}"\n`);
  process.exit(2);
}
let progress: Progress | undefined;
let report;
try {
  report = prepareWflw({
    wflwRoot: values.wflw,
    outDir: values.out,
    interpolation: values.interp,
    onProgress: (done, total) => (progress ??= new Progress('prepare', total)).update(done),
    onProblem: (problem) => process.stderr.write(`skipped: ${problem.message}\n`),
  });
} catch (err) {
  process.stderr.write(`prepare failed: ${(err as Error).message}\n`);
  process.exit(1);
}
for (const [set, count] of Object.entries(report.faces)) process.stdout.write(`${report.annotationFiles[set as keyof typeof report.faces]}\t${count} faces\n`);
process.stdout.write(`${report.cropsWritten} crops written, ${report.cropsKept} already present, ${report.problems.length} faces skipped\n`);
if (report.problems.length > 0) process.exit(1);
