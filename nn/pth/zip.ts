// The zip container torch.save has written since PyTorch 1.6: <folder>/data.pkl, <folder>/data/<key>
// for each storage, <folder>/version, and, since 2.1, <folder>/byteorder. PyTorch stores every
// entry uncompressed (and pads the local headers so that the data is 64-byte aligned), so an entry
// is a slice of the file; a compressed entry means the file was repacked, and is refused by name.
// The central directory at the end is the table of contents; its zip64 forms (counts and offsets
// past 16 and 32 bits) are read too, since archives over 4 GiB need them.
import { unreadable } from './pth-error.ts';

export interface ZipEntry {
  name: string;
  /** 0: stored; anything else is compressed. */
  method: number;
  /** General-purpose flags; bit 0 marks encryption. */
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const END_OF_DIRECTORY = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_END_OF_DIRECTORY = 0x06064b50;
const DIRECTORY_ENTRY = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;
const ZIP64_EXTRA = 0x0001;

const METHOD_NAMES: Record<number, string> = { 8: 'deflate', 9: 'deflate64', 12: 'bzip2', 14: 'lzma', 93: 'zstandard', 95: 'xz' };

/** Does the file start like a zip archive (a local file header)? */
export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

/** Bounds-checked little-endian reads: every offset in a zip comes from the file and may lie. */
class Reader {
  private readonly view: DataView;

  constructor(private readonly file: string, readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(offset: number, length: number, what: string): void {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.bytes.length)) {
      throw unreadable(this.file, `${what} at byte ${offset} runs past the end of the ${this.bytes.length}-byte file (truncated?)`);
    }
  }

  u16(offset: number): number {
    return this.view.getUint16(offset, true);
  }

  u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }

  /** A 64-bit field as a number; one past 2^53 cannot be a real offset or size here. */
  u64(offset: number, what: string): number {
    const value = this.view.getBigUint64(offset, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw unreadable(this.file, `zip64 ${what} ${value} is impossibly large`);
    return Number(value);
  }
}

/** Finds the end-of-central-directory record: the last 22 bytes, unless a comment (at most 65535 bytes) follows it. */
function findEndOfDirectory(file: string, r: Reader): number {
  const length = r.bytes.length;
  for (let at = length - 22; at >= Math.max(0, length - 22 - 0xffff); at--) {
    if (r.u32(at) === END_OF_DIRECTORY && at + 22 + r.u16(at + 20) <= length) return at;
  }
  throw unreadable(file, 'no zip end-of-central-directory record: the archive is truncated or damaged');
}

/** Where the central directory is and how many entries it lists, from the classic record or its zip64 form. */
function directoryLocation(file: string, r: Reader): { count: number; size: number; offset: number } {
  const end = findEndOfDirectory(file, r);
  if (r.u16(end + 4) !== 0 || r.u16(end + 6) !== 0) throw unreadable(file, 'a zip archive split over several disks');
  let count = r.u16(end + 10);
  let size = r.u32(end + 12);
  let offset = r.u32(end + 16);
  // Any field at its maximum says the real value is in the zip64 record, found through the locator just before.
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    const locator = end - 20;
    r.need(locator, 20, 'the zip64 end-of-central-directory locator');
    if (r.u32(locator) !== ZIP64_LOCATOR) throw unreadable(file, 'the zip end record points to a zip64 record, but its locator is missing');
    const record = r.u64(locator + 8, 'record offset');
    r.need(record, 56, 'the zip64 end-of-central-directory record');
    if (r.u32(record) !== ZIP64_END_OF_DIRECTORY) throw unreadable(file, `no zip64 end-of-central-directory record at byte ${record}`);
    count = r.u64(record + 32, 'entry count');
    size = r.u64(record + 40, 'directory size');
    offset = r.u64(record + 48, 'directory offset');
  }
  r.need(offset, size, 'the zip central directory');
  // A directory entry is at least 46 bytes: a count beyond that is a lie, not a reason to loop.
  if (count * 46 > size) throw unreadable(file, `the zip directory claims ${count} entries in ${size} bytes`);
  return { count, size, offset };
}

/** Reads the zip64 extra field's replacements for the 32-bit fields that are at their maximum, in the order the format lists them. */
function applyZip64Extra(file: string, r: Reader, start: number, length: number, entry: ZipEntry): void {
  for (let at = start; at + 4 <= start + length;) {
    const id = r.u16(at);
    const size = r.u16(at + 2);
    r.need(at + 4, size, `the extra field of zip entry ${entry.name}`);
    if (id === ZIP64_EXTRA) {
      let field = at + 4;
      const next = (what: string) => {
        if (field + 8 > at + 4 + size) throw unreadable(file, `zip entry ${entry.name}: its zip64 extra field lacks the ${what}`);
        const value = r.u64(field, `${what} of ${entry.name}`);
        field += 8;
        return value;
      };
      if (entry.size === 0xffffffff) entry.size = next('size');
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = next('compressed size');
      if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = next('header offset');
    }
    at += 4 + size;
  }
}

/** The archive's table of contents, every entry's sizes and offsets checked against the file. */
export function readZipDirectory(file: string, bytes: Uint8Array): Map<string, ZipEntry> {
  const r = new Reader(file, bytes);
  const { count, size, offset } = directoryLocation(file, r);
  const decoder = new TextDecoder('utf-8');
  const entries = new Map<string, ZipEntry>();
  let at = offset;
  for (let i = 0; i < count; i++) {
    r.need(at, 46, `zip directory entry ${i + 1} of ${count}`);
    if (at + 46 > offset + size || r.u32(at) !== DIRECTORY_ENTRY) throw unreadable(file, `zip directory entry ${i + 1} of ${count} is not where the directory says`);
    const nameLength = r.u16(at + 28);
    const extraLength = r.u16(at + 30);
    const commentLength = r.u16(at + 32);
    r.need(at + 46, nameLength + extraLength + commentLength, `zip directory entry ${i + 1}`);
    const entry: ZipEntry = {
      name: decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength)),
      flags: r.u16(at + 8),
      method: r.u16(at + 10),
      crc32: r.u32(at + 16),
      compressedSize: r.u32(at + 20),
      size: r.u32(at + 24),
      localHeaderOffset: r.u32(at + 42),
    };
    applyZip64Extra(file, r, at + 46 + nameLength, extraLength, entry);
    if (entries.has(entry.name)) throw unreadable(file, `the zip archive holds two entries named ${entry.name}`);
    entries.set(entry.name, entry);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** CRC-32 (the zip polynomial), so that a damaged entry is reported rather than read as weights. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * An entry's bytes, a view into `bytes`: found through its local header (whose extra field, the
 * alignment padding PyTorch adds, differs from the directory's), bounds- and CRC-checked.
 * A compressed or encrypted entry is refused, naming the entry and the method.
 */
export function entryBytes(file: string, bytes: Uint8Array, entry: ZipEntry): Uint8Array {
  if (entry.flags & 1) throw unreadable(file, `zip entry ${entry.name} is encrypted`);
  if (entry.method !== 0) {
    const method = METHOD_NAMES[entry.method] ?? `method ${entry.method}`;
    throw unreadable(
      file,
      `zip entry ${entry.name} is compressed (${method}); torch.save stores entries uncompressed, so this archive was repacked: ` +
        're-zip it without compression (zip -0), or load and torch.save it again',
    );
  }
  if (entry.compressedSize !== entry.size) throw unreadable(file, `zip entry ${entry.name} is stored but its sizes differ (${entry.compressedSize} and ${entry.size})`);
  const r = new Reader(file, bytes);
  const local = entry.localHeaderOffset;
  r.need(local, 30, `the local header of zip entry ${entry.name}`);
  if (r.u32(local) !== LOCAL_HEADER) throw unreadable(file, `zip entry ${entry.name}: no local header at byte ${local}`);
  const start = local + 30 + r.u16(local + 26) + r.u16(local + 28);
  r.need(start, entry.size, `the ${entry.size} bytes of zip entry ${entry.name}`);
  const data = bytes.subarray(start, start + entry.size);
  if (crc32(data) !== entry.crc32) throw unreadable(file, `zip entry ${entry.name} fails its CRC-32 check: the file is damaged`);
  return data;
}
