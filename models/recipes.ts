// Named training recipes: the settings of a published training run, so that run is one flag
// (node cli/train.js --recipe paper). A recipe fixes the settings it names; a flag given beside it
// overrides that one setting; what it does not name (network, width, seed, data) keeps the
// command's usual default. What every run here does anyway (the momentum of SGD, the 1e-10 floor
// of the schedule, the temperature, the loss, dropping the last partial batch) is part of the
// description, so --help shows the whole recipe.
import { TRAINING_DEFAULTS } from '../nn/optim/optimizer.ts';
import { LR_FLOOR, sepBnTemperature } from '../nn/optim/schedule.ts';
import type { RunSettings } from './run.ts';

export const RECIPE_NAMES = ['paper'] as const;
export type RecipeName = (typeof RECIPE_NAMES)[number];

/** The settings a recipe fixes; cli/train.js's flag of the same setting overrides each. */
export type RecipeSettings = Pick<RunSettings, 'optimizer' | 'lr' | 'weightDecay' | 'batch' | 'epochs' | 'warmup' | 'maxBatches'> & { scheduleEpochs: number };

export interface Recipe {
  /** Where the recipe comes from. */
  source: string;
  settings: RecipeSettings;
}

export const RECIPES: Record<RecipeName, Recipe> = {
  paper: {
    source: "the paper's trainBaselineSepDyBN.py and trainBaseline.py",
    settings: { optimizer: 'sgd', lr: 1e-3, weightDecay: 5e-4, batch: 8, epochs: 2000, warmup: 800, scheduleEpochs: 2000, maxBatches: null },
  },
};

export function isRecipeName(name: unknown): name is RecipeName {
  return typeof name === 'string' && (RECIPE_NAMES as readonly string[]).includes(name);
}

/** 1e-3 rather than 0.001: learning rates and decays read as the papers write them. */
const small = (n: number) => (n !== 0 && Math.abs(n) < 0.01 ? n.toExponential() : String(n));

/** The recipe setting by setting, each with the flag that overrides it, for --help and the start of a run. */
export function describeRecipe(name: RecipeName): string[] {
  const { source, settings: s } = RECIPES[name];
  const optimizer = s.optimizer === 'sgd' ? `SGD with momentum ${TRAINING_DEFAULTS.sgd.momentum}` : s.optimizer;
  // The temperature schedule is every run's default (sepBnTemperature's), which is the paper's.
  const start = sepBnTemperature(0);
  return [
    `--recipe ${name}: as ${source}:`,
    `  optimizer     ${optimizer} (--optimizer), learning rate ${small(s.lr)} (--lr), weight decay ${small(s.weightDecay)} (--weight-decay)`,
    `  batches       ${s.batch} images (--batch), the last partial batch of each epoch dropped, ${s.maxBatches === null ? 'every batch' : `${s.maxBatches} batches`} of an epoch (--max-batches)`,
    `  epochs        ${s.epochs} (--epochs)`,
    `  learning rate set before every step: linear warm-up from ${small(LR_FLOOR)} to ${small(s.lr)} over the first ${s.warmup} epochs (--warmup),`,
    `                then half a cosine down to ${small(LR_FLOOR)} at epoch ${s.scheduleEpochs} (--schedule-epochs)`,
    `  SepBN         attention temperature ${start} (--temperature-start), lowered by ${start - sepBnTemperature(1)} after each epoch (--temperature-step)`,
    `                down to ${sepBnTemperature(Number.MAX_SAFE_INTEGER)} (--temperature-end)`,
    '  loss          L1 on the landmark coordinates in pixels of the 128x128 input',
    "  network       not part of the recipe: --model (the paper trains sepbn and baseline), --width (the paper's is 1)",
  ];
}
