// A training run's faces from prepared WFLW256 files: augmented training batches from the
// worker-thread loader, and the test set's NME scored as `node cli/test.js` scores it.
import { RunError, type RunData, type RunSettings } from '../models/run.ts';
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
export function wflwRunData(files: RunFiles, settings: Pick<RunSettings, 'batch' | 'seed'>, workers?: number): RunData {
  checkRunData(files);
  const loader = new WflwLoader({ annotationFile: files.train, batchSize: settings.batch, train: true, seed: settings.seed, workers });
  return {
    epoch: (epoch) => loader.epoch(epoch),
    batchesPerEpoch: loader.batchesPerEpoch,
    describe: `${files.train} has ${loader.samples.length} faces`,
    async testNme(model: VanillaCnn): Promise<number> {
      const predictions = await predictFile(model, files.test, { batchSize: settings.batch, workers });
      const [score] = scoreFiles(predictions, [{ name: 'test', file: files.test }]);
      // Finite weights can still overflow on the way to the output; the run must not save such a network as its latest.
      if (score.nonFinite > 0) {
        throw new RunError(
          `training diverged: after this epoch the network predicts NaN or Infinity for ${score.nonFinite} of ${score.count} test faces. ` +
            'Try a lower --lr (or a longer --warmup); to find the first op that makes them, run again with SEPBN_CHECK_NAN=1. ' +
            'The checkpoint of the last good epoch, if any, is left as it was.',
        );
      }
      return score.nme;
    },
    close: () => loader.close(),
  };
}
