// The stream torch.save wrote before PyTorch 1.6 (and still writes with
// _use_new_zipfile_serialization=False): five pickles one after another, then the storages' bytes.
//   1. the magic number 0x1950a86a20f9469cfc6c      2. the format version, 1001
//   3. system info {protocol_version, little_endian, type_sizes}
//   4. the object (the state dict), whose tensors refer to storages by key
//   5. the list of storage keys, in the order their data follows
// then, for each key, an 8-byte element count (in the byte order of 3) and that many elements.
import { unpickle, type PickleSource } from './pickle.ts';
import { unreadable } from './pth-error.ts';
import { ITEM_BYTES, STATE_DICT_GLOBALS, storageReader, type StorageRef } from './torch-globals.ts';

const MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
const FORMAT_VERSION = 1001;

/** Does the file start like a pickle (PROTO 2 or later), as every legacy torch.save stream does? */
export function looksLikePickle(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5;
}

export interface LegacyContents {
  /** The unpickled object: the state dict, or a dict holding it. */
  root: unknown;
  /** Each storage's bytes, by key. */
  storages: Map<string, Uint8Array>;
  littleEndian: boolean;
}

export function readLegacy(file: string, bytes: Uint8Array): LegacyContents {
  // The header pickles hold only numbers, strings and dicts: they may name no global at all.
  const header = (what: string, at: number) => unpickle(bytes, at, { file, where: `${what} at byte ${at}`, globals: new Map() });
  const magic = header('the first pickle', 0);
  if (magic.value !== MAGIC_NUMBER) throw unreadable(file, 'its first pickle is not the magic number torch.save writes first');
  const version = header('the version pickle', magic.end);
  if (version.value !== FORMAT_VERSION) throw unreadable(file, `legacy format version ${String(version.value)}; this reader knows ${FORMAT_VERSION}`);
  const info = header('the system-info pickle', version.end);
  const littleEndian = info.value instanceof Map ? info.value.get('little_endian') : undefined;
  if (typeof littleEndian !== 'boolean') throw unreadable(file, 'its system-info pickle does not say whether the data is little-endian');

  const { load, storages: referenced } = storageReader('legacy');
  const objectSource: PickleSource = { file, where: `the object pickle at byte ${info.end}`, globals: STATE_DICT_GLOBALS, persistentLoad: load };
  const object = unpickle(bytes, info.end, objectSource);
  const keys = header('the storage-key pickle', object.end);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) throw unreadable(file, 'its storage-key pickle is not a list of strings');

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const storages = new Map<string, Uint8Array>();
  let at = keys.end;
  for (const key of keys.value as string[]) {
    const storage: StorageRef | undefined = referenced.get(key);
    if (!storage) throw unreadable(file, `storage ${key} has data in the stream but no tensor refers to it, so its element type is unknown`);
    if (at + 8 > bytes.length) throw unreadable(file, `the stream ends at byte ${bytes.length}, before the element count of storage ${key} (truncated)`);
    const count = view.getBigInt64(at, littleEndian);
    const length = count * BigInt(ITEM_BYTES[storage.dtype]);
    if (count !== BigInt(storage.numel)) throw unreadable(file, `storage ${key} is recorded with ${count} elements but its reference says ${storage.numel}`);
    if (length > BigInt(bytes.length - at - 8)) {
      throw unreadable(file, `storage ${key} claims ${count} ${storage.dtype} elements (${length} bytes) at byte ${at + 8}, but only ${bytes.length - at - 8} bytes remain (truncated)`);
    }
    storages.set(key, bytes.subarray(at + 8, at + 8 + Number(length)));
    at += 8 + Number(length);
  }
  return { root: object.value, storages, littleEndian };
}
