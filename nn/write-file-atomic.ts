// The one way this project writes a file that must never be seen half-written (checkpoints,
// images, annotation lists): write a temporary file in the same folder, flush it to the disk, then
// rename it over the target, so a crash or a full disk leaves either the old file or the new one.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes `data` (a string as UTF-8, or bytes in one or more pieces) to `file` atomically, making its folder if missing. */
export function writeFileAtomic(file: string, data: string | Uint8Array | Uint8Array[]): void {
  const folder = dirname(file);
  if (!existsSync(folder)) mkdirSync(folder, { recursive: true });
  const pieces = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : Array.isArray(data) ? data : [data];
  const temporary = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let fd: number | undefined;
  try {
    fd = openSync(temporary, 'wx');
    for (const piece of pieces) {
      // writeSync may write less than asked (a full disk, a signal); loop until every byte is out.
      for (let written = 0; written < piece.byteLength;) written += writeSync(fd, piece, written);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temporary, file);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
    throw err;
  }
}
