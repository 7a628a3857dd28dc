// Safetensors files on the disk (Node), so checkpoints move to and from PyTorch with one call on
// either side (safetensors.torch.load_file / save_file). The format itself, bytes in and out, is
// safetensors-format.ts, whose names are re-exported here.
import { readFileSync } from 'node:fs';
import { encodeSafetensors, parseSafetensors, SafetensorsError, type NamedArray } from './safetensors-format.ts';
import { writeFileAtomic } from './write-file-atomic.ts';

export { encodeSafetensors, parseSafetensors, SafetensorsError, type NamedArray, type SafetensorsDtype } from './safetensors-format.ts';

export function readSafetensors(file: string): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new SafetensorsError(file, (err as Error).message);
  }
  return parseSafetensors(bytes, file);
}

/** Writes the file atomically (write-file-atomic.ts), so a crash never leaves half a file. */
export function writeSafetensors(file: string, tensors: Array<[string, NamedArray]>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}
