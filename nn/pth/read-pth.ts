// A PyTorch .pth state dict read without Python and without running anything it contains: the zip
// archive torch.save writes since 1.6 or the legacy stream before it, its pickle interpreted by the
// restricted reader (pickle.ts) that knows only the globals a state dict needs (torch-globals.ts),
// and every tensor gathered from its storage into the same named arrays a safetensors file gives.
// What people hold is often not a bare state dict: runs trained under nn.DataParallel prefix every
// name with "module.", and training scripts save {"state_dict": ..., "epoch": ...} or
// {"model": ...}. Both are undone here, as the paper's own loader does, and said in `notes`.
import type { NamedArray } from '../safetensors.ts';
import { readLegacy } from './legacy.ts';
import { describeValue, unpickle } from './pickle.ts';
import { unreadable } from './pth-error.ts';
import { elementCount, MAX_ELEMENTS, tensorElements } from './tensor-data.ts';
import { ITEM_BYTES, STATE_DICT_GLOBALS, storageReader, TensorRef, type StorageRef, type TorchDtype } from './torch-globals.ts';
import { entryBytes, looksLikeZip, readZipDirectory } from './zip.ts';

export interface PthContents {
  tensors: Map<string, NamedArray>;
  /** Each tensor's element type in the file (every floating type is read as float32). */
  fileDtypes: Map<string, TorchDtype>;
  format: 'zip' | 'legacy';
  /** What was done to reach the tensors, in words: a wrapper unwrapped, a name prefix stripped. */
  notes: string[];
}

/** Where a file's tensors are: its unpickled object, and each storage's bytes by key. */
interface Unpickled {
  root: unknown;
  storageBytes: (storage: StorageRef) => Uint8Array;
  littleEndian: boolean;
}

/** The wrapper entries training scripts save a state dict under, tried in this order. */
const WRAPPER_KEYS = ['state_dict', 'model'];
const DATA_PARALLEL_PREFIX = 'module.';

function readZip(file: string, bytes: Uint8Array): Unpickled {
  const entries = readZipDirectory(file, bytes);
  const pickles = [...entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickles.length !== 1) {
    const torchScript = [...entries.keys()].some((name) => /^[^/]+\/constants\.pkl$/.test(name));
    throw unreadable(
      file,
      torchScript
        ? 'a TorchScript archive (torch.jit.save), which holds code as well as weights; save the model\'s state_dict() with torch.save instead'
        : `a zip archive with ${pickles.length === 0 ? 'no' : pickles.length} <folder>/data.pkl entries; torch.save writes exactly one`,
    );
  }
  const folder = pickles[0].slice(0, -'/data.pkl'.length);
  const byteorderEntry = entries.get(`${folder}/byteorder`);
  const byteorder = byteorderEntry ? new TextDecoder().decode(entryBytes(file, bytes, byteorderEntry)).trim() : 'little';
  if (byteorder !== 'little' && byteorder !== 'big') throw unreadable(file, `${folder}/byteorder says "${byteorder}", not little or big`);
  const { load } = storageReader('zip');
  const { value } = unpickle(entryBytes(file, bytes, entries.get(pickles[0])!), 0, { file, where: pickles[0], globals: STATE_DICT_GLOBALS, persistentLoad: load });
  return {
    root: value,
    littleEndian: byteorder === 'little',
    storageBytes: (storage) => {
      const name = `${folder}/data/${storage.key}`;
      const entry = entries.get(name);
      if (!entry) throw unreadable(file, `storage ${storage.key} has no entry ${name} in the archive`);
      const expected = storage.numel * ITEM_BYTES[storage.dtype];
      if (entry.size !== expected) throw unreadable(file, `${name} holds ${entry.size} bytes, but its reference says ${storage.numel} ${storage.dtype} elements (${expected} bytes)`);
      return entryBytes(file, bytes, entry);
    },
  };
}

function readLegacyStream(file: string, bytes: Uint8Array): Unpickled {
  const { root, storages, littleEndian } = readLegacy(file, bytes);
  return {
    root,
    littleEndian,
    storageBytes: (storage) => {
      const data = storages.get(storage.key);
      if (!data) throw unreadable(file, `storage ${storage.key} is referred to but has no data in the stream`);
      return data;
    },
  };
}

/** The state dict inside what was unpickled: unwrapped from {"state_dict": ...} or {"model": ...}, its tensors by name. */
function findStateDict(file: string, root: unknown, notes: string[]): Map<string, TensorRef> {
  let dict = root;
  // A checkpoint of a training script: {"state_dict": {...}, "epoch": 3, "optimizer": {...}}; at most two levels of it.
  for (let level = 0; level < 2 && dict instanceof Map && ![...dict.values()].some((v) => v instanceof TensorRef); level++) {
    const key = WRAPPER_KEYS.find((k) => dict instanceof Map && dict.get(k) instanceof Map);
    if (key === undefined) break;
    notes.push(`took the state dict from its "${key}" entry`);
    dict = (dict as Map<unknown, unknown>).get(key);
  }
  if (!(dict instanceof Map)) throw unreadable(file, `it holds ${describeValue(dict)}, not a state dict (a dict of tensors)`);
  const keys = [...dict.keys()].map(String);
  if (![...dict.values()].some((v) => v instanceof TensorRef)) {
    throw unreadable(file, `it holds a dict without tensors (keys: ${keys.slice(0, 8).join(', ') || 'none'}) and no "state_dict" or "model" entry holding them`);
  }
  const tensors = new Map<string, TensorRef>();
  for (const [key, value] of dict) {
    if (typeof key !== 'string') throw unreadable(file, `its state dict has a key that is ${describeValue(key)}, not a name`);
    if (!(value instanceof TensorRef)) throw unreadable(file, `entry "${key}" of its state dict is ${describeValue(value)}, not a tensor`);
    tensors.set(key, value);
  }
  if (keys.every((k) => k.startsWith(DATA_PARALLEL_PREFIX))) {
    notes.push(`stripped the "${DATA_PARALLEL_PREFIX}" prefix (nn.DataParallel) from every name`);
    return new Map([...tensors].map(([k, v]) => [k.slice(DATA_PARALLEL_PREFIX.length), v]));
  }
  return tensors;
}

/**
 * Reads a .pth state dict from its bytes (`file` names it in messages). Throws a PthError naming
 * the file for a file that is damaged or not a state dict, and for one whose pickle asks for
 * anything outside the allow-list (refused before anything runs).
 */
export function readPth(file: string, bytes: Uint8Array): PthContents {
  const format = looksLikeZip(bytes) ? 'zip' : 'legacy';
  const { root, storageBytes, littleEndian } = format === 'zip' ? readZip(file, bytes) : readLegacyStream(file, bytes);
  const notes: string[] = [];
  const refs = findStateDict(file, root, notes);
  const total = [...refs.values()].reduce((sum, t) => sum + elementCount(t.shape), 0);
  if (total > MAX_ELEMENTS) throw unreadable(file, `its tensors claim more than ${MAX_ELEMENTS} elements in all (the full-size networks have about 43 million)`);
  const tensors = new Map<string, NamedArray>();
  const fileDtypes = new Map<string, TorchDtype>();
  for (const [name, ref] of refs) {
    tensors.set(name, tensorElements(ref, storageBytes(ref.storage), littleEndian, (problem) => unreadable(file, `tensor "${name}": ${problem}`)));
    fileDtypes.set(name, ref.storage.dtype);
  }
  return { tensors, fileDtypes, format, notes };
}
