// Reverse mode over the define-by-run tape: visit the graph behind a tensor in reverse topological
// order, call each node's backward rule, and sum gradients where a tensor fans out (so shared
// inputs just work). Leaves that require grad accumulate into .grad (+=, as PyTorch does).
// A rule may return a gradient that only broadcasts to its input's shape; it is added to the
// input's other gradients by broadcasting and expanded only when a full tensor is needed.
import { add } from './ops/arith.ts';
import { broadcastTo } from './ops/reduce.ts';
import { broadcastShapes, formatShape, sameShape } from './shape.ts';
import { noGrad, Tensor } from './tensor.ts';
import { onesLike } from './create.ts';

export interface BackwardOptions {
  /** Gradient of the final quantity with respect to `root`; defaults to ones for a scalar root. */
  grad?: Tensor;
  /** Also store .grad on intermediate tensors, for the debugger and the SepBN walkthrough. */
  retainGrads?: boolean;
  /** Called for each node as it runs, in tape order: (tensor, gradient flowing into it). */
  onNode?: (t: Tensor, grad: Tensor) => void;
}

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<number>();
  // Iterative depth-first search: deep networks would overflow a recursive one.
  const stack: Array<{ t: Tensor; expanded: boolean }> = [{ t: root, expanded: false }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.expanded) {
      order.push(top.t);
      continue;
    }
    if (seen.has(top.t.id)) continue;
    seen.add(top.t.id);
    stack.push({ t: top.t, expanded: true });
    for (const input of top.t.node?.inputs ?? []) {
      if (input.requiresGrad && !seen.has(input.id)) stack.push({ t: input, expanded: false });
    }
  }
  return order.reverse();
}

export function backward(root: Tensor, options: BackwardOptions = {}): void {
  if (!root.requiresGrad) throw new Error(`backward: ${root.label}${formatShape(root.shape)} does not require grad (no parameter or input with requiresGrad reaches it)`);
  if (!options.grad && root.size !== 1) {
    throw new Error(`backward: ${root.label}${formatShape(root.shape)} is not a scalar; pass options.grad`);
  }
  noGrad(() => {
    const grads = new Map<number, Tensor>();
    grads.set(root.id, options.grad ?? onesLike(root));
    for (const t of topologicalOrder(root)) {
      const grad = grads.get(t.id);
      if (!grad) continue;
      grads.delete(t.id);
      // A gradient may arrive unbroadcast (from a sum); rules and leaves get the full shape.
      const full = sameShape(grad.shape, t.shape) ? grad : broadcastTo(grad, t.shape);
      options.onNode?.(t, full);
      if (!t.node) {
        accumulateLeaf(t, full);
        continue;
      }
      if (options.retainGrads) accumulateLeaf(t, full);
      const inputGrads = t.node.backward(full);
      t.node.inputs.forEach((input, i) => {
        const g = inputGrads[i];
        if (!g || !input.requiresGrad) return;
        if (!sameShape(broadcastShapes(`backward of ${t.node!.op}`, g.shape, input.shape), input.shape)) {
          throw new Error(`backward of ${t.node!.op}: gradient for input ${i} has shape ${formatShape(g.shape)}, input has ${formatShape(input.shape)}`);
        }
        const previous = grads.get(input.id);
        grads.set(input.id, previous ? add(previous, g) : g);
      });
    }
  });
}

function accumulateLeaf(t: Tensor, grad: Tensor): void {
  const next = t.grad ? add(t.grad, grad) : grad;
  if (t.grad && t.grad !== next) t.grad.dispose();
  // Gradients of kept tensors (parameters) must outlive the scope of the step that made them.
  if (t.kept) next.keep();
  next.label = `grad(${t.label})`;
  t.grad = next;
}

/** Drops the gradients of the given tensors (before the next step's backward). */
export function zeroGrad(tensors: Iterable<Tensor>): void {
  for (const t of tensors) {
    t.grad?.dispose();
    t.grad = null;
  }
}
