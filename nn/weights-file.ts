// Every weights file a user gives (--weights, train --init, cli/convert.js) goes through this one
// reader: safetensors, or a PyTorch .pth in either of torch.save's formats, told apart by their
// first bytes, not by the name (released checkpoints end in .pth, .pt, .pkl, .tar or nothing).
//   zip archive:  "PK\x03\x04"                      -> .pth (torch.save since PyTorch 1.6)
//   safetensors:  8-byte header length, then "{"    -> safetensors
//   pickle:       0x80 and a protocol number 2..5   -> .pth (the legacy stream)
// Anything else is read as safetensors, whose reader says what is wrong with it.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { looksLikePickle } from './pth/legacy.ts';
import { PthError } from './pth/pth-error.ts';
import { readPth } from './pth/read-pth.ts';
import { looksLikeZip } from './pth/zip.ts';
import { parseSafetensors, SafetensorsError, type NamedArray } from './safetensors.ts';
import { StateDictError } from './state-dict-values.ts';

export type WeightsFormat = 'safetensors' | 'pth-zip' | 'pth-legacy';

export const FORMAT_NAMES: Record<WeightsFormat, string> = {
  safetensors: 'safetensors',
  'pth-zip': 'PyTorch .pth (zip archive)',
  'pth-legacy': 'PyTorch .pth (legacy stream)',
};

export interface WeightsFile {
  format: WeightsFormat;
  /** As a safetensors file holds them: a .pth's floating tensors as F32, its integers as I64, I32, U8 or BOOL. */
  tensors: Map<string, NamedArray>;
  /** The safetensors metadata; a .pth has none. */
  metadata: Record<string, string>;
  /** Each tensor's element type in the file: PyTorch's name (float64, ...) for a .pth, the safetensors dtype otherwise. */
  fileDtypes: Map<string, string>;
  /** What was done to reach the tensors of a .pth: a wrapper unwrapped, a "module." prefix stripped. */
  notes: string[];
}

/** A weights file that cannot be read at all (missing, a folder, no permission). */
export class WeightsFileError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: cannot read it: ${problem}`);
    this.name = 'WeightsFileError';
  }
}

export function weightsFormat(bytes: Uint8Array): WeightsFormat {
  if (looksLikeZip(bytes)) return 'pth-zip';
  if (bytes.length > 8 && bytes[8] === 0x7b) return 'safetensors';
  return looksLikePickle(bytes) ? 'pth-legacy' : 'safetensors';
}

/** The format of a file from its first bytes alone, without reading the rest. */
export function weightsFileFormat(file: string): WeightsFormat {
  const head = new Uint8Array(16);
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    return weightsFormat(head.subarray(0, readSync(fd, head, 0, head.length, 0)));
  } catch (err) {
    throw new WeightsFileError(file, (err as Error).message);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function readWeightsFile(file: string): WeightsFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new WeightsFileError(file, (err as Error).message);
  }
  const format = weightsFormat(bytes);
  if (format === 'safetensors') {
    const { tensors, metadata } = parseSafetensors(bytes, file);
    return { format, tensors, metadata, fileDtypes: new Map([...tensors].map(([name, t]) => [name, t.dtype])), notes: [] };
  }
  const { tensors, fileDtypes, notes } = readPth(file, bytes);
  return { format, tensors, metadata: {}, fileDtypes, notes };
}

/** Is `err` a problem with a weights file a user gave (unreadable, refused, not fitting the network)? Its message names the file and says it all. */
export function isWeightsProblem(err: unknown): err is Error {
  return err instanceof PthError || err instanceof SafetensorsError || err instanceof WeightsFileError || err instanceof StateDictError;
}
