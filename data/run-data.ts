// A training run's faces from prepared WFLW256 files: augmented training batches from the
// worker-thread loader, and the test set's NME scored as `node cli/test.js` scores it.
import type { RunData, RunSettings } from '../models/run.ts';
import { PAPER_AUGMENTATION } from './augment.ts';
import type { VanillaCnn } from '../models/vanilla-cnn.ts';
import { checkRunData } from './check.ts';
import { predictFile, scoreFiles } from './evaluate.ts';
import { WflwLoader } from './loader.ts';

export interface RunFiles {
  /** train.txt of a prepared folder (cli/prepare.js). */
  train: string;
  /** test.txt, scored after every epoch. */
  test: string;
}

/**
 * Opens the files for a run's batch size and seed; `workers` loader threads (0: the calling thread).
 * Checks them first (checkRunData): a bad image or line throws here, before the first step.
 */
export function wflwRunData(files: RunFiles, settings: Pick<RunSettings, 'batch' | 'seed' | 'augment'>, workers?: number): RunData {
  checkRunData(files);
  const augment = settings.augment === 'none' ? null : PAPER_AUGMENTATION;
  const loader = new WflwLoader({ annotationFile: files.train, batchSize: settings.batch, train: true, seed: settings.seed, workers, augment });
  return {
    epoch: (epoch) => loader.epoch(epoch),
    batchesPerEpoch: loader.batchesPerEpoch,
    describe: `${files.train} has ${loader.samples.length} faces`,
    async testNme(model: VanillaCnn): Promise<number> {
      const predictions = await predictFile(model, files.test, { batchSize: settings.batch, workers });
      const [score] = scoreFiles(predictions, [{ name: 'test', file: files.test }]);
      // Infinity when any face's prediction is not finite (data/metrics.ts): the run stops there as diverged.
      return score.nme;
    },
    close: () => loader.close(),
  };
}
