// The one way this project writes a file that must never be seen half-written (checkpoints,
// images, annotation lists): write a temporary file in the same folder, flush it to the disk, then
// rename it over the target, so a crash or a full disk leaves either the old file or the new one.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The temporary name of `file` while this process writes it; removeStaleTemporaries recognises it. */
export function temporaryName(file: string): string {
  return `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Removes the temporary files in `folder` of the names `owns` accepts that no running process
 * writes any more: what a killed writer left behind. This process's own are stale too, since its
 * writes are synchronous; another live process's are left to it.
 */
export function removeStaleTemporaries(folder: string, owns: (name: string) => boolean): void {
  if (!existsSync(folder)) return;
  for (const name of readdirSync(folder)) {
    const match = /^(.*)\.tmp-(\d+)-[0-9a-z]*$/.exec(name);
    if (!match || !owns(match[1])) continue;
    const writer = Number(match[2]);
    if (writer === process.pid || !isRunning(writer)) rmSync(join(folder, name), { force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Test-only: SEPBN_TEST_WRITE_PAUSE_MS holds every write this long between its flushed temporary
 * file and the rename, so a test that kills the process finds temporary files left behind.
 */
const writePauseMs = Number(process.env.SEPBN_TEST_WRITE_PAUSE_MS ?? 0);

/** Flushes a folder's entries (a rename or a new link in it) to the disk. */
export function fsyncFolder(folder: string): void {
  const fd = openSync(folder, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` (a string as UTF-8, or bytes in one or more pieces) to `file` atomically, making its folder if missing. */
export function writeFileAtomic(file: string, data: string | Uint8Array | Uint8Array[]): void {
  const folder = dirname(file);
  if (!existsSync(folder)) mkdirSync(folder, { recursive: true });
  const pieces = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : Array.isArray(data) ? data : [data];
  const temporary = temporaryName(file);
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
    if (writePauseMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, writePauseMs);
    renameSync(temporary, file);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
    throw err;
  }
}
