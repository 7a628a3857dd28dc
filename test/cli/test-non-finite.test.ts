// `node cli/test.js` on a network whose every prediction is NaN: NME inf, FR@0.1 100 %, AUC 0, and
// the table says how many faces were non-finite (it used to report FR 0.00 %).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage, encodePng } from '../../data/image-io.ts';
import { createRgbImage } from '../../data/rgb-image.ts';
import { wflwTopology } from '../../data/topology.ts';
import { formatWflw256Line } from '../../data/wflw256.ts';
import { assignValues } from '../../engine/assign.ts';
import { saveCheckpoint } from '../../models/checkpoint.ts';
import { buildModel, modelConfig } from '../../models/registry.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-test-non-finite-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('every prediction NaN: every face fails, and the table says so', async (t) => {
  const model = buildModel(modelConfig('baseline', 32, 0));
  assignValues(model.fc2.bias, new Float64Array(model.fc2.bias.size).fill(NaN));
  const weights = join(dir, 'nan.safetensors');
  await saveCheckpoint(weights, model, undefined, { epoch: 0, batchInEpoch: 0, step: 0, temperature: 1, epochLoss: { sum: 0, count: 0 }, run: {} });
  const data = join(dir, 'faces256');
  mkdirSync(join(data, 'images'), { recursive: true });
  const face = Float64Array.from(wflwTopology().meanShape128.flat(), (v) => v + 64);
  const lines = [0, 1, 2].map((i) => {
    writeFileSync(join(data, 'images', `face${i}.png`), encodePng(createRgbImage(256, 256)));
    return formatWflw256Line(face, `images/face${i}.png`) + '\n';
  });
  writeFileSync(join(data, 'test.txt'), lines.join(''));
  writeFileSync(join(data, 'train.txt'), lines.join(''));

  const base = ['cli/test.js', '--weights', weights, '--data', data, '--backend', 'cpu'];
  const text = spawnSync(process.execPath, base, { cwd: root, encoding: 'utf8' });
  t.equal(text.status, 0, text.stderr);
  const [header, , row] = text.stdout.split('\n');
  t.match(header, /NME %\s+FR@0\.1 %\s+AUC@0\.1\s+non-finite\s+NME % of the finite/);
  t.match(row, /^test\s+3\s+inf\s+100\.00\s+0\.0000\s+3\s+-$/, row);
  t.match(text.stdout, /non-finite: faces whose predicted landmarks include NaN or Infinity/);

  const json = spawnSync(process.execPath, [...base, '--json'], { cwd: root, encoding: 'utf8' });
  const [score] = JSON.parse(json.stdout);
  // JSON has no Infinity: the mean NME reads null, and nonFinite says why.
  t.same({ nme: score.nmePercent, nonFinite: score.nonFinite, failureRate: score.failureRatePercent, auc: score.auc }, { nme: null, nonFinite: 3, failureRate: 100, auc: 0 });

  // Its CED chart has no curve to draw, and says why on the chart.
  const ced = join(dir, 'ced.png');
  const drawn = spawnSync(process.execPath, [...base, '--ced', ced], { cwd: root, encoding: 'utf8' });
  t.equal(drawn.status, 0, drawn.stderr);
  const image = decodeImage(readFileSync(ced));
  let note = 0;
  for (let p = 0; p < image.data.length; p += 3) if (image.data[p] === 200 && image.data[p + 1] === 0 && image.data[p + 2] === 0) note++;
  t.ok(note > 100, `the chart carries the note in red (${note} pixels)`);
});
