// Memory scopes: every tensor created inside scope() is disposed when it ends, except the ones
// returned from it (handed to the enclosing scope) and the kept ones (parameters, optimizer
// state). JavaScript has no destructors, so this is how GPU buffers go back to the pool.
import type { Tensor } from './tensor.ts';

const stack: Set<Tensor>[] = [];

export function track(t: Tensor): void {
  stack.at(-1)?.add(t);
}

function collectTensors(value: unknown, into: Set<Tensor>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if ((value as { storage?: unknown }).storage !== undefined && 'shape' in (value as object)) {
    into.add(value as Tensor);
    return;
  }
  const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  for (const item of items) collectTensors(item, into, depth + 1);
}

function close(created: Set<Tensor>, result: unknown): void {
  const returned = new Set<Tensor>();
  collectTensors(result, returned);
  const parent = stack.at(-1);
  for (const t of created) {
    if (returned.has(t)) parent?.add(t);
    else if (!t.kept) t.dispose();
  }
}

/** Runs fn (sync or async) and frees every tensor it created but did not return or keep. */
export function scope<T>(fn: () => T): T {
  const created = new Set<Tensor>();
  stack.push(created);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    stack.pop();
    close(created, undefined);
    throw err;
  }
  if (result instanceof Promise) {
    // An async scope keeps collecting until its promise settles; do not interleave two of them.
    return result.then(
      (value) => {
        stack.splice(stack.lastIndexOf(created), 1);
        close(created, value);
        return value;
      },
      (err) => {
        stack.splice(stack.lastIndexOf(created), 1);
        close(created, undefined);
        throw err;
      },
    ) as T;
  }
  stack.pop();
  close(created, result);
  return result;
}
