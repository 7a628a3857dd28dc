// Where the commands find their data: --data DIR (prepared WFLW256 files), the folder a checkpoint's
// run trained on, or the built-in synthetic faces, generated once into a cache folder.
import { accessSync, constants, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { subsetFilesBeside } from '../data/prepare.ts';
import { ensureSyntheticDataset } from '../data/synthetic-dataset.ts';
import type { RunState } from '../models/checkpoint.ts';
import { Progress } from './progress.ts';
import { UsageError } from './main.ts';

/**
 * Where the built-in synthetic faces are drawn once: the project's own .cache/ (a checkout, or a
 * package installed where its user may write), else the user's cache folder
 * ($XDG_CACHE_HOME or ~/.cache, under sepbn-webgpu/) for a package installed read-only.
 */
export function cacheDir(own = fileURLToPath(new URL('../.cache/', import.meta.url))): string {
  try {
    accessSync(existsSync(own) ? own : dirname(own), constants.W_OK);
    return own;
  } catch {
    return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'sepbn-webgpu');
  }
}

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
    dir = ensureSyntheticDataset(cacheDir(), {
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
  const testSets = [{ name: 'test', file: file('test') }, ...subsetFilesBeside(file('test'))];
  return { dir, train: file('train'), test: file('test'), testSets };
}

/**
 * The faces a checkpoint is scored on, and a line naming them and why: --data when given, else the
 * folder the checkpoint's run trained on (its metadata records it), else the built-in synthetic
 * faces. `state` is the checkpoint's run state; absent for a file without our metadata (a .pth).
 */
export function checkpointData(dataFlag: string | undefined, weightsFile: string, state: RunState | undefined): { files: DataFiles; said: string } {
  if (dataFlag !== undefined) {
    const files = resolveData(resolve(dataFlag));
    return { files, said: `data: ${files.dir} (--data)` };
  }
  const recorded = state?.run.data;
  if (typeof recorded === 'string') {
    // Runs record the folder as an absolute path; an older run's relative one is read from here.
    const dir = resolve(recorded);
    if (!existsSync(join(dir, 'test.txt'))) {
      throw new UsageError(`${weightsFile} was trained on ${dir} (its metadata says), which has no test.txt now: give --data DIR, the prepared folder to score`);
    }
    return { files: resolveData(dir), said: `data: ${dir}, the folder the checkpoint's run trained on (--data DIR scores others)` };
  }
  const files = resolveData(undefined);
  if (recorded === null) return { files, said: `data: the built-in synthetic faces (${files.dir}), which the checkpoint's run trained on (--data DIR scores others)` };
  return {
    files,
    said: `data: the built-in synthetic faces (${files.dir}), since ${weightsFile} records no data folder (a PyTorch file, or a state dict without a run's metadata); give --data DIR to score yours`,
  };
}
