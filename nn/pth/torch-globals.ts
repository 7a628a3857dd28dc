// The globals a PyTorch state dict names, each with a JavaScript stand-in that only records what
// it is given: collections.OrderedDict (the state dict itself), torch._utils._rebuild_tensor_v2
// (a tensor: a storage, an offset, a size and a stride), the two parameter rebuilders (a tensor
// saved as nn.Parameter), and the typed storage classes (torch.FloatStorage ...) that name a
// storage's element type. This list is the whole of what a .pth may ask for; PyTorch 1.6 to 2.x
// write nothing else into a state dict of plain tensors.
import { AllowedGlobal, describeValue } from './pickle.ts';

export type TorchDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'uint8' | 'bool';

export const ITEM_BYTES: Record<TorchDtype, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, uint8: 1, bool: 1 };

/** A storage class such as torch.FloatStorage: in a pickle it only says which element type a storage holds. */
export class StorageType extends AllowedGlobal {
  constructor(name: string, readonly dtype: TorchDtype) {
    super('torch', name);
  }
}

/** A storage the pickle refers to by key: its bytes are read later, from the archive entry or the stream. */
export class StorageRef {
  readonly kind = 'a storage';

  constructor(
    readonly key: string,
    readonly dtype: TorchDtype,
    /** Elements in the storage. */
    readonly numel: number,
    /** Legacy files only: a view starts this many elements into the storage `key`. */
    readonly offset = 0,
  ) {}
}

/** A tensor as the file describes it: elements storage[offset + sum_i index_i * stride_i]. */
export class TensorRef {
  readonly kind = 'a tensor';

  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

const STORAGE_TYPES: Array<[string, TorchDtype]> = [
  ['FloatStorage', 'float32'],
  ['DoubleStorage', 'float64'],
  ['HalfStorage', 'float16'],
  ['BFloat16Storage', 'bfloat16'],
  ['LongStorage', 'int64'],
  ['IntStorage', 'int32'],
  ['ByteStorage', 'uint8'],
  ['BoolStorage', 'bool'],
];

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isCounts = (v: unknown): v is number[] => Array.isArray(v) && v.every(isCount);

/** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
function rebuildTensor(args: readonly unknown[], fail: (problem: string) => Error): TensorRef {
  const [storage, offset, size, stride, requiresGrad, hooks] = args;
  const shown = () => `(${args.map(describeValue).join(', ')})`;
  if (args.length !== 6 && args.length !== 7) throw fail(`given ${args.length} arguments ${shown()} instead of 6 or 7`);
  if (!(storage instanceof StorageRef)) throw fail(`given ${describeValue(storage)} for the storage`);
  if (!isCount(offset)) throw fail(`given ${describeValue(offset)} = ${String(offset)} for the storage offset`);
  if (!isCounts(size) || !isCounts(stride) || size.length !== stride.length) {
    throw fail(`size ${JSON.stringify(size)} and stride ${JSON.stringify(stride)} are not two tuples of the same number of non-negative integers`);
  }
  if (typeof requiresGrad !== 'boolean' || !(hooks instanceof Map)) throw fail(`given ${shown()} instead of (storage, offset, size, stride, requires_grad, backward_hooks)`);
  return new TensorRef(storage, offset, size, stride);
}

/** _rebuild_parameter(data, requires_grad, backward_hooks) and _rebuild_parameter_with_state(..., state): the tensor is the parameter. */
function rebuildParameter(count: number) {
  return (args: readonly unknown[], fail: (problem: string) => Error): TensorRef => {
    if (args.length !== count || !(args[0] instanceof TensorRef)) throw fail(`given (${args.map(describeValue).join(', ')}) instead of a tensor and ${count - 1} more arguments`);
    return args[0];
  };
}

/** The allow-list, by 'module.name'. */
export const STATE_DICT_GLOBALS: ReadonlyMap<string, AllowedGlobal> = new Map(
  [
    new AllowedGlobal('collections', 'OrderedDict', (args, fail) => {
      // torch.save pickles an OrderedDict as OrderedDict() followed by its items.
      if (args.length !== 0) throw fail(`given ${args.length} arguments; a state dict is built empty and then filled`);
      return new Map();
    }),
    new AllowedGlobal('torch._utils', '_rebuild_tensor_v2', rebuildTensor),
    new AllowedGlobal('torch._utils', '_rebuild_parameter', rebuildParameter(3)),
    new AllowedGlobal('torch._utils', '_rebuild_parameter_with_state', rebuildParameter(4)),
    ...STORAGE_TYPES.map(([name, dtype]) => new StorageType(name, dtype)),
  ].map((g): [string, AllowedGlobal] => [g.kind, g]),
);

/**
 * The storage a persistent id names, one StorageRef per key so that tensors sharing a storage
 * share it here too:
 *   zip:    ('storage', StorageType, key, location, numel)
 *   legacy: ('storage', StorageType, key, location, numel, view) with view None or (view key, offset, size)
 */
export function storageReader(format: 'zip' | 'legacy'): { load: (pid: unknown, fail: (problem: string) => Error) => StorageRef; storages: Map<string, StorageRef> } {
  const storages = new Map<string, StorageRef>();
  const load = (pid: unknown, fail: (problem: string) => Error): StorageRef => {
    const fields = format === 'zip' ? 5 : 6;
    if (!Array.isArray(pid) || pid.length !== fields || pid[0] !== 'storage') throw fail(`a storage reference ${describeValue(pid)} is not the ${fields} fields ('storage', type, key, location, size${format === 'legacy' ? ', view' : ''})`);
    const [, type, key, location, numel] = pid;
    if (!(type instanceof StorageType) || typeof key !== 'string' || typeof location !== 'string' || !isCount(numel)) {
      throw fail(`a storage reference (${pid.map(describeValue).join(', ')}) is not (storage type, key, location, element count)`);
    }
    const root = storages.get(key) ?? new StorageRef(key, type.dtype, numel);
    if (root.dtype !== type.dtype || root.numel !== numel) throw fail(`storage ${key} is referred to as ${root.numel} ${root.dtype} and as ${numel} ${type.dtype}`);
    storages.set(key, root);
    const view = format === 'legacy' ? pid[5] : null;
    if (view === null) return root;
    if (!Array.isArray(view) || view.length !== 3 || !isCount(view[1]) || !isCount(view[2])) throw fail(`storage ${key} has a view ${describeValue(view)} that is not (key, offset, size)`);
    if (view[1] + view[2] > numel) throw fail(`a view of storage ${key} at elements ${view[1]}..${view[1] + view[2]} runs past its ${numel} elements`);
    return new StorageRef(key, type.dtype, view[2], view[1]);
  };
  return { load, storages };
}
