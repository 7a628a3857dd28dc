// The front door of models/ (`import ... from 'sepbn-webgpu/models'`): the Vanilla CNN with no
// normalisation, BatchNorm or SepBN, its names and summary, the training step and a whole training
// run, and checkpoints.

export {
  /** The Vanilla CNN: images [N, 3, 128, 128] -> landmarks [N, 196], x y interleaved in 128-frame pixels. */
  VanillaCnn,
  /** A network's configuration from its normalisation, width divisor and seed. */
  defaultConfig,
  /** 128: the side of the network's input image. */
  INPUT_SIZE,
  /** 98: the WFLW landmarks the network predicts. */
  LANDMARKS,
  /** Normalisation, width divisor, SepBN settings and seed of a network. */
  type VanillaCnnConfig,
  /** 'none', 'bn' or 'sepbn'. */
  type Norm,
} from './vanilla-cnn.ts';
export {
  /** The networks by the names the commands take: baseline, sepbn, bn. */
  MODEL_NAMES,
  /** The configuration of a named network at a width divisor and seed. */
  modelConfig,
  /** A network with fresh weights from its configuration. */
  buildModel,
  /** 'baseline', 'sepbn' or 'bn'. */
  type ModelName,
} from './registry.ts';
export {
  /** Per-layer output shapes, parameters and MACs of a configuration, with totals. */
  summarize,
  /** A configuration's rows and totals. */
  type Summary,
} from './summary.ts';

export {
  /** Records one training step (forward, L1 loss, backward, update); resolves to its loss once it has run. */
  trainStep,
  /** Trains one epoch over a stream of batches, reading each loss a step late. */
  trainEpoch,
  /** Training has diverged (a non-finite or runaway loss); says at which epoch, step and learning rate. */
  DivergenceError,
  /** Images [N, 3, 128, 128] and landmarks [N, 196] as Float32Arrays. */
  type LandmarkBatch,
  /** The options of trainEpoch: epoch, schedule, callbacks. */
  type EpochOptions,
  /** What an epoch did: mean loss, images, seconds. */
  type EpochReport,
} from './trainer.ts';
export {
  /** A training run: start() or resume(), then train(); writes the log and a checkpoint every epoch. */
  TrainingRun,
  /** Reads a run's checkpoint to resume it, checking its settings. */
  readRunCheckpoint,
  /** A problem with a run's settings, checkpoint, output folder or data; its message says it all. */
  RunError,
  /** Everything that decides a run's result: model, width, epochs, batch, optimizer, lr, seed, data. */
  type RunSettings,
  /** Where a run writes, and how it opens its data. */
  type RunOptions,
  /** A run's batches and test score (data/'s wflwRunData makes one from prepared files). */
  type RunData,
  /** Callbacks and the stop signal of TrainingRun.train(). */
  type RunEvents,
  /** One epoch's line of the run's log.jsonl. */
  type LogLine,
} from './run.ts';
export {
  /** Saves weights and optimizer state as one unit that a kill cannot tear. */
  saveCheckpoint,
  /** Loads a checkpoint's weights (and optionally its optimizer state) into a model. */
  restoreCheckpoint,
  /** The configuration and run state a checkpoint records. */
  readCheckpointInfo,
  /** A checkpoint that is missing, corrupt or does not fit. */
  CheckpointError,
  /** A run's position and settings as a checkpoint records them. */
  type RunState,
} from './checkpoint.ts';
export {
  /** Builds the network a weights file (our checkpoint, a .pth or a plain safetensors state dict) holds, and loads it. */
  loadWeights,
  /** The network and width to build, where the user names them instead of the file. */
  type WeightsChoice,
  /** The loaded network, the run state its checkpoint records (SepBN temperature, epoch), what was inferred. */
  type LoadedWeights,
} from './weights.ts';
