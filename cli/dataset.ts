// Where the train and test commands find their data: --data DIR (prepared WFLW256 files), or the
// built-in synthetic faces, generated once into the project's .cache folder.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSyntheticDataset } from '../data/synthetic-dataset.ts';
import { Progress } from './progress.ts';
import { UsageError } from './main.ts';

export const CACHE_DIR = fileURLToPath(new URL('../.cache/', import.meta.url));

const SUBSETS = ['pose', 'expression', 'illumination', 'makeup', 'occlusion', 'blur'];

export interface DataFiles {
  dir: string;
  train: string;
  test: string;
  /** The test set and its non-empty subsets, as named sets for scoring. */
  testSets: Array<{ name: string; file: string }>;
}

export function resolveData(dataDir: string | undefined): DataFiles {
  let dir = dataDir;
  if (!dir) {
    let progress: Progress | undefined;
    let stage = '';
    dir = ensureSyntheticDataset(CACHE_DIR, {
      onProgress: (s, done, total) => {
        if (s !== stage) {
          stage = s;
          progress = new Progress(s === 'synth' ? 'drawing synthetic faces' : 'preparing 256x256 crops', total);
        }
        progress!.update(done);
      },
    });
  }
  const file = (name: string) => join(dir!, `${name}.txt`);
  for (const name of ['train', 'test']) {
    if (!existsSync(file(name))) throw new UsageError(`${dir} has no ${name}.txt: give --data the output folder of "node cli/prepare.js"`);
  }
  const testSets = [{ name: 'test', file: file('test') }];
  for (const s of SUBSETS) {
    const f = file(`test_${s}`);
    if (existsSync(f) && readFileSync(f, 'utf8').trim() !== '') testSets.push({ name: s, file: f });
  }
  return { dir, train: file('train'), test: file('test'), testSets };
}
