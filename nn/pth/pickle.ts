// A restricted pickle reader: it interprets the opcodes a PyTorch state dict is written with
// (protocol 2 as torch.save writes it, and the few more of protocol 4) and nothing else, and it can
// call only the functions the caller lists (AllowedGlobal). Python's pickle runs whatever callable
// a file names (os.system, builtins.eval); here a name outside the list stops the read before
// anything is called, and no opcode can reach the JavaScript outside those few functions.
//
// Values: None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float -> number,
// str -> string, list -> array, tuple -> frozen array, dict and OrderedDict -> Map.
import { refused, unreadable } from './pth-error.ts';

/** A global the caller allows: a storage type (no `call`), or a function with a JavaScript stand-in. */
export class AllowedGlobal {
  readonly kind: string;

  constructor(
    readonly module: string,
    readonly name: string,
    /** Builds the value REDUCE makes from these arguments; `fail` turns a problem with them into the error to throw. */
    readonly call?: (args: readonly unknown[], fail: (problem: string) => Error) => unknown,
  ) {
    this.kind = `${module}.${name}`;
  }
}

export interface PickleSource {
  file: string;
  /** Where in the file the pickle is, for messages: 'archive/data.pkl', 'the legacy stream at byte 137'. */
  where: string;
  /** The globals the pickle may name, by 'module.name'. */
  globals: ReadonlyMap<string, AllowedGlobal>;
  /** Turns a persistent id (a storage reference) into a value; absent where a pickle must have none. */
  persistentLoad?: (pid: unknown, fail: (problem: string) => Error) => unknown;
}

/** Containers nested deeper than this are refused: a state dict nests four or five levels. */
export const MAX_NESTING = 100;
/** The longest module or name a GLOBAL may spell. */
const MAX_GLOBAL_NAME = 256;
/** The most bytes of a LONG4 integer (PyTorch's largest integer, its magic number, takes 10). */
const MAX_LONG_BYTES = 64;

const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

/** What a value is, in Python's words, for messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'None';
  if (typeof value === 'boolean') return 'a bool';
  if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value))) return 'an int';
  if (typeof value === 'number') return 'a float';
  if (typeof value === 'string') return 'a string';
  if (Array.isArray(value)) return Object.isFrozen(value) ? `a tuple of ${value.length}` : `a list of ${value.length}`;
  if (value instanceof Map) return `a dict of ${value.size}`;
  if (typeof value === 'object' && 'kind' in value) return String((value as { kind: unknown }).kind);
  return typeof value;
}

/**
 * Reads one pickle starting at `start` up to and including its STOP; returns its value and the
 * offset after STOP (the legacy format puts several pickles one after another).
 */
export function unpickle(bytes: Uint8Array, start: number, source: PickleSource): { value: unknown; end: number } {
  const { file, where } = source;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const nesting = new WeakMap<object, number>();
  let at = start;
  let opcodeAt = start;

  const fail = (problem: string) => unreadable(file, `${where}, byte ${opcodeAt - start}: ${problem}`);
  const take = (length: number, what: string): number => {
    if (at + length > bytes.length) throw unreadable(file, `${where} is cut short (truncated): ${what} at byte ${at - start} needs ${length} bytes, only ${bytes.length - at} remain`);
    const from = at;
    at += length;
    return from;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) throw fail('an opcode pops from an empty stack');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) throw fail('an opcode needs a value and the stack is empty');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const mark = marks.pop();
    if (mark === undefined) throw fail('an opcode needs a MARK and there is none');
    return stack.splice(mark);
  };
  const depthOf = (value: unknown): number => (typeof value === 'object' && value !== null ? (nesting.get(value) ?? 0) : 0);
  const contain = <T extends object>(container: T, children: Iterable<unknown>): T => {
    let depth = Math.max(1, nesting.get(container) ?? 0);
    for (const child of children) depth = Math.max(depth, depthOf(child) + 1);
    if (depth > MAX_NESTING) throw fail(`containers nested deeper than ${MAX_NESTING} levels`);
    nesting.set(container, depth);
    return container;
  };
  const tuple = (items: unknown[]) => contain(Object.freeze(items), items);
  const list = (value: unknown, op: string): unknown[] => {
    if (!Array.isArray(value) || Object.isFrozen(value)) throw fail(`${op} on ${describeValue(value)}, not a list`);
    return value;
  };
  const dict = (value: unknown, op: string): Map<unknown, unknown> => {
    if (!(value instanceof Map)) throw fail(`${op} on ${describeValue(value)}, not a dict`);
    return value;
  };
  const setItems = (target: Map<unknown, unknown>, items: unknown[]) => {
    if (items.length % 2 !== 0) throw fail('SETITEMS with a key and no value');
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i];
      // Map keys compare by identity: only values Python compares by value make sensible keys.
      if (typeof key === 'object' && key !== null) throw fail(`a dict key is ${describeValue(key)}; a state dict's keys are strings`);
      target.set(key, items[i + 1]);
    }
    contain(target, items);
  };
  const memoIndex = (index: number) => {
    if (!memo.has(index)) throw fail(`memo index ${index} was never stored`);
    return memo.get(index);
  };
  const text = (length: number, what: string): string => {
    const from = take(length, what);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(from, from + length));
    } catch {
      throw fail(`${what} is not valid UTF-8`);
    }
  };
  const line = (what: string): string => {
    const length = bytes.subarray(at, at + MAX_GLOBAL_NAME + 1).indexOf(0x0a);
    if (length < 0 && bytes.length - at <= MAX_GLOBAL_NAME) throw unreadable(file, `${where} is cut short (truncated) inside ${what} of a GLOBAL at byte ${at - start}`);
    if (length < 0) throw fail(`${what} of a GLOBAL is longer than ${MAX_GLOBAL_NAME} characters`);
    return text(length + 1, what).slice(0, -1);
  };
  const integer = (from: number, length: number): number | bigint => {
    let value = 0n;
    for (let i = length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[from + i]);
    if (length > 0 && bytes[from + length - 1] & 0x80) value -= 1n << BigInt(8 * length);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  };
  const global = (module: string, name: string): AllowedGlobal => {
    const allowed = source.globals.get(`${module}.${name}`);
    if (!allowed) {
      throw refused(
        file,
        `its pickle (${where}) asks for the global ${module}.${name}, which a PyTorch state dict never needs; ` +
          'only collections.OrderedDict and PyTorch\'s own tensor rebuild functions and storage types are allowed',
      );
    }
    return allowed;
  };

  for (;;) {
    opcodeAt = at;
    const opcode = bytes[take(1, 'an opcode')];
    switch (opcode) {
      case 0x80: { // PROTO
        const protocol = bytes[take(1, 'the protocol number')];
        if (protocol < 2 || protocol > 5) throw fail(`pickle protocol ${protocol}; PyTorch writes 2 (or 3 to 5 when asked)`);
        break;
      }
      case 0x95: // FRAME: a length prefix for buffering; the bytes that follow are ordinary opcodes.
        take(8, 'the frame length');
        break;
      case 0x2e: { // STOP
        if (marks.length > 0) throw fail('STOP inside an unclosed MARK');
        if (stack.length !== 1) throw fail(`STOP with ${stack.length} values on the stack instead of 1`);
        return { value: stack[0], end: at };
      }
      case 0x28: // MARK
        if (marks.length >= MAX_NESTING) throw fail(`containers nested deeper than ${MAX_NESTING} levels`);
        marks.push(stack.length);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: { // TUPLE3
        const items = Array.from({ length: opcode - 0x84 }, pop).reverse();
        stack.push(tuple(items));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push(contain([], []));
        break;
      case 0x61: { // APPEND
        const item = pop();
        const target = list(top(), 'APPEND');
        target.push(item);
        contain(target, [item]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const target = list(top(), 'APPENDS');
        target.push(...items);
        contain(target, items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(contain(new Map(), []));
        break;
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItems(dict(top(), 'SETITEM'), [key, value]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(dict(top(), 'SETITEMS'), items);
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(bytes[take(1, 'BININT1')]);
        break;
      case 0x4d: // BININT2
        stack.push(view.getUint16(take(2, 'BININT2'), true));
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(take(4, 'BININT'), true));
        break;
      case 0x8a: { // LONG1
        const length = bytes[take(1, 'the LONG1 length')];
        stack.push(integer(take(length, 'LONG1'), length));
        break;
      }
      case 0x8b: { // LONG4
        const length = view.getInt32(take(4, 'the LONG4 length'), true);
        if (length < 0 || length > MAX_LONG_BYTES) throw fail(`an integer of ${length} bytes; a state dict's integers take at most ${MAX_LONG_BYTES}`);
        stack.push(integer(take(length, 'LONG4'), length));
        break;
      }
      case 0x47: // BINFLOAT
        stack.push(view.getFloat64(take(8, 'BINFLOAT'), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(view.getUint32(take(4, 'the BINUNICODE length'), true), 'a string'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(bytes[take(1, 'the SHORT_BINUNICODE length')], 'a string'));
        break;
      case 0x71: // BINPUT
        memo.set(bytes[take(1, 'BINPUT')], top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(view.getUint32(take(4, 'LONG_BINPUT'), true), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoIndex(bytes[take(1, 'BINGET')]));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoIndex(view.getUint32(take(4, 'LONG_BINGET'), true)));
        break;
      case 0x63: { // GLOBAL
        const module = line('the module');
        stack.push(global(module, line('the name')));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw fail('STACK_GLOBAL without a module and a name');
        stack.push(global(module, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        if (!(callable instanceof AllowedGlobal) || !callable.call) throw fail(`REDUCE calls ${describeValue(callable)}, which is not a function a state dict calls`);
        if (!Array.isArray(args)) throw fail(`REDUCE gives ${callable.kind} ${describeValue(args)} instead of a tuple of arguments`);
        const result = callable.call(args, (problem) => fail(`${callable.kind}: ${problem}`));
        stack.push(typeof result === 'object' && result !== null ? contain(result, args) : result);
        break;
      }
      case 0x62: { // BUILD
        // Sets attributes: OrderedDict's _metadata (each module's version), which loading does not need.
        const state = pop();
        const target = top();
        if (!(target instanceof Map)) throw fail(`BUILD sets the state of ${describeValue(target)}; a state dict sets only a dict's`);
        contain(target, [state]);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!source.persistentLoad) throw fail('a storage reference where none may be');
        stack.push(source.persistentLoad(pid, fail));
        break;
      }
      default: {
        const name = OPCODE_NAMES[opcode];
        throw refused(
          file,
          `its pickle (${where}) uses ${name ? `opcode ${name}` : 'an unknown opcode'} (0x${opcode.toString(16).padStart(2, '0')}) at byte ${opcodeAt - start}, ` +
            'which is not one a PyTorch state dict is written with',
        );
      }
    }
  }
}
