// The inspection commands beyond --help, by what they print: cli/summary.js (table and JSON, both
// networks at full size), cli/gradcheck.js on one cheap op, and cli/explain.js sepbn on the CPU,
// whose printed intermediates are checked against the formulas they are printed with.
import t from 'tap';
import { gpuSkipped } from '../gpu.ts';
import { runCommand } from './run-command.ts';


const node = runCommand;

const count = (text: string) => Number(text.replaceAll(',', ''));

interface SummaryJson {
  model: string;
  rows: Array<{ layer: string; outputShape: number[]; parameters: number; macs: number }>;
  totalParameters: number;
  totalMacs: number;
}

for (const { model, parameters, gmac } of [
  { model: 'sepbn', parameters: '42,909,940', gmac: '1.58' },
  { model: 'baseline', parameters: '42,327,876', gmac: '1.56' },
]) {
  t.test(`node cli/summary.js${model === 'sepbn' ? '' : ` --model ${model}`}: the full-size ${model} network`, async (t) => {
    const modelFlag = model === 'sepbn' ? [] : ['--model', model];
    const table = node(['cli/summary.js', ...modelFlag]);
    t.equal(table.status, 0, table.stderr);
    t.match(table.stdout, new RegExp(`^${parameters} parameters, ${gmac} GMac$`, 'm'));
    const lines = table.stdout.split('\n');
    const total = lines.find((l) => l.startsWith('total'))!.trim().split(/\s+/);
    t.equal(total[1], parameters, 'the total row');

    const json = node(['cli/summary.js', ...modelFlag, '--json']);
    t.equal(json.status, 0, json.stderr);
    const summary = JSON.parse(json.stdout) as SummaryJson;
    t.equal(summary.model, model);
    t.equal(summary.totalParameters, count(parameters));
    t.equal((summary.totalMacs / 1e9).toFixed(2), gmac);
    t.equal(summary.rows.reduce((a, r) => a + r.parameters, 0), summary.totalParameters, 'the rows add up to the total parameters');
    t.equal(summary.rows.reduce((a, r) => a + r.macs, 0), summary.totalMacs, 'and to the total MACs');
    t.equal(count(total[2]), summary.totalMacs, 'the table and the JSON agree on the MACs');

    // Six blocks of convolution (channels 64 .. 2048, padding keeps the size), normalisation (SepBN
    // only) and 2x2 pooling on a 128x128 input, then fc1 (2048) and fc2 (98 x-y pairs).
    const expected: Array<[string, number[]]> = [];
    for (let i = 1; i <= 6; i++) {
      const [channels, size] = [64 * 2 ** (i - 1), 128 / 2 ** (i - 1)];
      expected.push([`conv${i}`, [channels, size, size]]);
      if (model === 'sepbn') expected.push([`bn${i} (SepBN K=3)`, [channels, size, size]]);
      expected.push([`pool${i}`, [channels, size / 2, size / 2]]);
    }
    expected.push(['fc1', [2048]], ['fc2', [196]]);
    t.same(summary.rows.map((r) => [r.layer, r.outputShape]), expected, 'every layer and its output shape');
    const conv1 = summary.rows[0];
    t.equal(conv1.parameters, 64 * 3 * 3 * 3 + 64, 'conv1: 64 filters of 3x3x3 and their biases');
    t.equal(conv1.macs, 64 * 3 * 3 * 3 * 128 * 128, 'conv1: one multiply-accumulate per weight per output position');
    for (const row of summary.rows) {
      const printed = lines.find((l) => l.startsWith(`${row.layer} `))!.trim().split(/\s{2,}/);
      t.same(printed.slice(1).map((v, i) => (i === 0 ? v : count(v))), [`[N,${row.outputShape.join(',')}]`, row.parameters, row.macs], `${row.layer}: the table row is the JSON row`);
    }
  });
}

t.test('node cli/gradcheck.js --op softmax', async (t) => {
  const backends = gpuSkipped(t) ? ['cpu'] : ['cpu', 'webgpu'];
  for (const backend of backends) {
    const run = node(['cli/gradcheck.js', '--op', 'softmax', '--backend', backend]);
    t.equal(run.status, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    t.match(lines[0], /^op\s+case\s+check\s+max error\s+tolerance\s+pass$/);
    const rows = lines.slice(2, -2).map((l) => l.split(/\s{2,}/));
    const checks = backend === 'cpu' ? ['cpu grad x0 vs finite differences'] : ['cpu grad x0 vs finite differences', 'webgpu output vs cpu', 'webgpu grad x0 vs cpu'];
    t.same([...new Set(rows.map((r) => r[2]))], checks, `${backend}: the checks it makes`);
    t.ok(rows.length >= 2 * checks.length, `${backend}: several softmax cases (${rows.length} rows)`);
    for (const [op, label, check, error, tolerance, pass] of rows) {
      t.ok(op === 'softmax' && pass === 'yes' && Number(error) <= Number(tolerance), `${label} ${check}: ${error} <= ${tolerance}`);
    }
    t.equal(lines.at(-1), `${rows.length} passed, 0 failed`);
  }
});

t.test('node cli/explain.js sepbn --backend cpu', async (t) => {
  const run = node(['cli/explain.js', 'sepbn', '--backend', 'cpu']);
  t.equal(run.status, 0, run.stderr);
  // Each step: a header "NAME  [SHAPE]  formula", then notes, then its values.
  const steps = new Map<string, { shape: number[]; notes: string[]; values: number[] }>();
  let current: { shape: number[]; notes: string[]; values: number[] } | undefined;
  const lines = run.stdout.split('\n');
  const summary = lines.findIndex((l) => /^\d+ gradients, largest finite-difference error/.test(l));
  for (const line of lines.slice(0, summary)) {
    const header = /^(\S+)  \[([\d,]*)\]  /.exec(line);
    if (header) {
      current = { shape: header[2] ? header[2].split(',').map(Number) : [], notes: [], values: [] };
      steps.set(header[1], current);
    } else if (current && /^ {2}finite differences:/.test(line)) {
      current.notes.push(line.trim());
    } else if (current && !line.startsWith('===')) {
      current.values.push(...(line.match(/-?\d+(\.\d+)?(e[-+]?\d+)?/g) ?? []).map(Number));
    }
  }
  const value = (name: string) => {
    const step = steps.get(name);
    if (!step) throw new Error(`explain printed no ${name}`);
    return step.values;
  };

  const forward = ['p', 'u', 'v', 'z', 'a', 'gamma_nc', 'mu', 'xhat', 'y'];
  t.same(forward.filter((n) => !steps.has(n)), [], 'every forward intermediate is printed');
  t.same(forward.filter((n) => !steps.has(`dL/d${n}`)), [], 'and the gradient reaching each');
  for (const [name, step] of steps) {
    const size = step.shape.reduce((a, b) => a * b, 1);
    if (step.values.length !== size) t.fail(`${name}: ${step.values.length} values printed for shape [${step.shape}]`);
  }
  const gradients = [...steps].filter(([name]) => name.startsWith('dL/d'));
  t.equal(lines[summary].split(' ')[0], String(gradients.length), 'the summary counts every gradient');
  for (const [name, step] of gradients) {
    const check = /^finite differences: max \|tape - numeric\| = (\S+) ok$/.exec(step.notes[0] ?? '');
    t.ok(check && Number(check[1]) < 1e-5, `${name}: ${step.notes[0]}`);
  }

  // The printed numbers (4 significant digits) obey the formulas printed with them.
  const [N, C, K, HW] = [2, 4, 3, 9];
  const a = value('a');
  for (let n = 0; n < N; n++) t.ok(Math.abs(a[n * K] + a[n * K + 1] + a[n * K + 2] - 1) < 2e-3, `a[${n}] sums to 1 over the K sets`);
  const gammas = [0, 1, 2].map((k) => value(`gamma_${k}`));
  const gammaNc = value('gamma_nc');
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const mixed = gammas.reduce((s, g, k) => s + a[n * K + k] * g[c], 0);
      if (Math.abs(mixed - gammaNc[n * C + c]) > 2e-3) t.fail(`gamma_nc[${n},${c}] = ${gammaNc[n * C + c]}, sum_k a gamma_k = ${mixed}`);
    }
  }
  const xhat = value('xhat');
  for (let c = 0; c < C; c++) {
    const channel = [0, 1].flatMap((n) => xhat.slice((n * C + c) * HW, (n * C + c + 1) * HW));
    const mean = channel.reduce((s, v) => s + v, 0) / channel.length;
    const meanSquare = channel.reduce((s, v) => s + v * v, 0) / channel.length;
    t.ok(Math.abs(mean) < 2e-3 && Math.abs(meanSquare - 1) < 2e-3, `xhat channel ${c}: mean ${mean.toFixed(4)}, mean square ${meanSquare.toFixed(4)}`);
  }
  t.same(value('dL/dy'), value('R'), 'L = sum y R, so the gradient reaching y is R');
});
