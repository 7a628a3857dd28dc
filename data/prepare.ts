// Raw WFLW -> the WFLW256 layout:
//   OUT/train.txt, OUT/test.txt                       every face of each split
//   OUT/test_pose.txt ... OUT/test_blur.txt           the test faces with that attribute flag set
//   OUT/images/<split>/<event folder>/<name>_<line>.png   the 256x256 crops (line: of the raw annotation file,
//                                                     since one photo can hold several faces)
//   OUT/prepared.json                                 written last: counts and settings; its presence means done
// Faces on malformed lines or with unreadable images are reported and left out; the rest is written.
import { existsSync, readFileSync } from 'node:fs';
import { join, normalize, sep } from 'node:path';
import { cropFace, cropRegion, sourceToCrop } from './face-crop.ts';
import { encodePng, readImage } from './image-io.ts';
import { writeFileAtomic } from '../nn/write-file-atomic.ts';
import type { RgbImage } from './rgb-image.ts';
import { SourceError } from './source-error.ts';
import { transformPoints, type Interpolation } from './warp.ts';
import { ATTRIBUTES, readWflwAnnotations, wflwAnnotationFile, wflwImageFile, type Attribute, type Split, type WflwFace } from './wflw-annotations.ts';
import { formatWflw256Line } from './wflw256.ts';

export interface PrepareOptions {
  wflwRoot: string;
  outDir: string;
  interpolation: Interpolation;
  /** Called after each face with the count done so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Called as each problem is found (and every problem is also in the report). */
  onProblem?: (problem: SourceError) => void;
  /** Called with each warning (and every warning is also in the report); by default printed to stderr. */
  onWarning?: (warning: string) => void;
}

export interface PrepareReport {
  /** Annotation file of each split and test subset, absolute paths. */
  annotationFiles: Record<'train' | 'test' | `test_${Attribute}`, string>;
  faces: Record<'train' | 'test' | `test_${Attribute}`, number>;
  cropsWritten: number;
  /** Crops already on disk from an earlier run, left as they were. */
  cropsKept: number;
  problems: SourceError[];
  /** Things written but probably not meant, e.g. a list with no faces, each naming its file. */
  warnings: string[];
}

export const PREPARED_MARKER = 'prepared.json';

export function annotationFileName(set: 'train' | 'test' | `test_${Attribute}`): string {
  return `${set}.txt`;
}

/**
 * The subset files beside an annotation file, as prepareWflw writes them beside test.txt
 * (DIR/test.txt -> DIR/test_pose.txt ... DIR/test_blur.txt): those that exist and hold a face.
 */
export function subsetFilesBeside(annotationFile: string): Array<{ name: Attribute; file: string }> {
  const stem = annotationFile.replace(/\.txt$/, '');
  return ATTRIBUTES.map((name) => ({ name, file: `${stem}_${name}.txt` })).filter(({ file }) => existsSync(file) && readFileSync(file, 'utf8').trim() !== '');
}

/** The crop's path relative to the output folder. */
export function cropPath(split: Split, face: WflwFace): string {
  const relative = normalize(face.imagePath);
  if (relative.startsWith('..') || relative.startsWith(sep)) {
    throw new SourceError(face.file, face.line, `image path "${face.imagePath}" leaves WFLW_images`);
  }
  const stem = relative.replace(/\.[^./\\]*$/, '');
  return ['images', split, `${stem}_${face.line}.png`].join('/');
}

export function prepareWflw(options: PrepareOptions): PrepareReport {
  const { wflwRoot, outDir, interpolation } = options;
  const problems: SourceError[] = [];
  const report = (problem: SourceError) => {
    problems.push(problem);
    options.onProblem?.(problem);
  };
  const warnings: string[] = [];
  const warn = (warning: string) => {
    warnings.push(warning);
    (options.onWarning ?? ((w: string) => process.stderr.write(`warning: ${w}\n`)))(warning);
  };
  const splits: Split[] = ['train', 'test'];
  const parsed = splits.map((split) => {
    const annotations = readWflwAnnotations(wflwAnnotationFile(wflwRoot, split));
    annotations.problems.forEach(report);
    return annotations.faces;
  });
  const total = parsed[0].length + parsed[1].length;
  const lines = { train: [] as string[], test: [] as string[], ...Object.fromEntries(ATTRIBUTES.map((a) => [`test_${a}`, [] as string[]])) } as Record<keyof PrepareReport['faces'], string[]>;
  let cropsWritten = 0;
  let cropsKept = 0;
  let done = 0;
  // Faces of one photo sit on consecutive lines; keep the last decoded photo to read each once.
  let lastImage: { file: string; image: RgbImage } | undefined;
  splits.forEach((split, s) => {
    for (const face of parsed[s]) {
      try {
        const relative = cropPath(split, face);
        const cropFile = join(outDir, relative);
        let landmarksPx: Float64Array;
        if (existsSync(cropFile)) {
          landmarksPx = new Float64Array(face.landmarksPx.length);
          transformPoints(face.landmarksPx, sourceToCrop(cropRegion(face.box)), landmarksPx);
          cropsKept++;
        } else {
          const imageFile = wflwImageFile(wflwRoot, face);
          if (lastImage?.file !== imageFile) lastImage = { file: imageFile, image: readImage(imageFile, `${face.file}:${face.line}`) };
          const crop = cropFace(lastImage.image, face.box, face.landmarksPx, interpolation);
          writeFileAtomic(cropFile, encodePng(crop.image));
          landmarksPx = crop.landmarksPx;
          cropsWritten++;
        }
        const line = formatWflw256Line(landmarksPx, relative);
        lines[split].push(line);
        if (split === 'test') for (const a of ATTRIBUTES) if (face.attributes[a]) lines[`test_${a}`].push(line);
      } catch (err) {
        if (err instanceof SourceError) report(err);
        else report(new SourceError(face.file, face.line, (err as Error).message));
      }
      options.onProgress?.(++done, total);
    }
  });
  const annotationFiles = {} as PrepareReport['annotationFiles'];
  const faces = {} as PrepareReport['faces'];
  for (const [set, setLines] of Object.entries(lines) as Array<[keyof PrepareReport['faces'], string[]]>) {
    annotationFiles[set] = join(outDir, annotationFileName(set));
    faces[set] = setLines.length;
    writeFileAtomic(annotationFiles[set], setLines.map((l) => l + '\n').join(''));
    // An empty list is written all the same (the layout stays complete), but training on it or
    // scoring it would fail or print NaN much later, far from the cause.
    if (setLines.length === 0) warn(`${annotationFiles[set]}: 0 faces${set.startsWith('test_') ? ` (no test face has the ${set.slice(5)} flag)` : ''}`);
  }
  const summary = { source: wflwRoot, interpolation, faces, problems: problems.length, layout: 'WFLW256: 98 x, 98 y, image path relative to this folder' };
  writeFileAtomic(join(outDir, PREPARED_MARKER), JSON.stringify(summary, null, 2) + '\n');
  return { annotationFiles, faces, cropsWritten, cropsKept, problems, warnings };
}
