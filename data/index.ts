// The front door of data/ (`import ... from 'sepbn-webgpu/data'`): WFLW files and their 256x256
// crops, images, the batch loader, synthetic faces, one face as the network sees it, and the metrics.
// Landmarks are x y interleaved, in continuous pixel coordinates (data/README.md).

export {
  /** A raw WFLW annotation file: every face's 98 points, box, attributes and image. */
  readWflwAnnotations,
  /** One face of a raw WFLW annotation file. */
  type WflwFace,
} from './wflw-annotations.ts';
export {
  /** A prepared (WFLW256) annotation file: every crop's 98 points and image. */
  readWflw256,
  /** One face of a prepared annotation file. */
  type Wflw256Sample,
} from './wflw256.ts';
export {
  /** Makes the 256x256 face crops and the WFLW256 annotation files from raw WFLW (what `sepbn-prepare` runs). */
  prepareWflw,
  /** Where prepareWflw reads and writes, and how it resamples. */
  type PrepareOptions,
} from './prepare.ts';
export {
  /** The 98-point topology: mean shape, flip partners, facial parts, interocular points. */
  wflwTopology,
  /** 98. */
  LANDMARK_COUNT,
} from './topology.ts';

export {
  /** A JPEG or PNG file as an RGB image; errors name the file. */
  readImage,
  /** An RGB image as PNG bytes. */
  encodePng,
} from './image-io.ts';
export {
  /** An 8-bit RGB image, row-major, 3 bytes a pixel. */
  type RgbImage,
} from './rgb-image.ts';

export {
  /** Augmented (training) or plain (testing) batches of a prepared file, made ahead on worker threads; close() when done. */
  WflwLoader,
  /** Annotation file, batch size, training or testing, seed, workers. */
  type LoaderOptions,
  /** A batch: images [N, 3, 128, 128] and landmarks [N, 196] as Float32Arrays, with their indices and paths. */
  type Batch,
} from './loader.ts';
export {
  /** A training run's data (models' RunData) from prepared train and test files, checked before the first step. */
  wflwRunData,
} from './run-data.ts';

export {
  /** Draws one synthetic face with the WFLW topology, its landmarks and box, from a seeded generator. */
  drawSyntheticFace,
  /** A synthetic face: image, landmarks, box, attributes. */
  type SyntheticFace,
} from './synthetic-face.ts';
export {
  /** Writes a synthetic data set in the raw WFLW layout (what `sepbn-synth` runs). */
  writeSyntheticWflw,
  /** Makes (once) a prepared synthetic set under a cache folder and returns its folder. */
  ensureSyntheticDataset,
} from './synthetic-dataset.ts';

export {
  /** One photograph as the network sees it: the face crop made from its box (or the image, if it is a prepared crop). */
  faceInput,
  /** The landmarks of each 256 crop, predicted in eval mode on its central 128. */
  predictCrops,
  /** Maps landmarks from crop pixels to the photograph's pixels. */
  cropToImagePoints,
  /** A face box [xMin, yMin, xMax, yMax] in the photograph's pixels. */
  type FaceBox,
  /** A photograph's crop and the map back to its pixels. */
  type FaceInput,
} from './face-input.ts';
export {
  /** A model's landmarks for every face of a prepared file, keyed by image path. */
  predictFile,
  /** NME, FR and AUC of predictions against each named annotation file. */
  scoreFiles,
  /** One set's scores and per-image NMEs. */
  type SetScore,
} from './evaluate.ts';
export {
  /** Each face's NME: mean point error over the interocular distance (outer eye corners). */
  nmePerImage,
  /** NME, failure rate and CED AUC of a set, at a threshold (default 0.1). */
  summarizeNme,
  /** The cumulative error distribution curve up to a threshold. */
  cedCurve,
  /** A set's scores. */
  type NmeSummary,
} from './metrics.ts';
