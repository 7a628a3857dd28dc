// Module: a tree of named parameters, buffers and children, with PyTorch's naming (dotted paths
// such as `bn1.bn.0.running_var`) and train/eval modes. Parameters and buffers are kept tensors:
// they outlive every memory scope and are updated in place by optimizers and running statistics.
import type { Tensor } from '../engine/tensor.ts';
import type { MismatchDescriber } from './state-dict-values.ts';

/** An integer buffer kept on the host (BatchNorm's num_batches_tracked, an I64 in checkpoints). */
export class Counter {
  value = 0;
}

export class Module {
  training = true;
  /**
   * Set on a network that is one of a family (models/registry.ts): what a state dict that does not
   * fit it is instead, so a load can say "a baseline checkpoint, you asked for sepbn".
   */
  describeMismatch?: MismatchDescriber;
  private readonly ownParameters: Array<[string, Tensor]> = [];
  private readonly ownBuffers: Array<[string, Tensor | Counter]> = [];
  private readonly children: Array<[string, Module]> = [];

  protected parameter(name: string, t: Tensor): Tensor {
    t.keep();
    t.requiresGrad = true;
    t.label = name;
    this.ownParameters.push([name, t]);
    return t;
  }

  protected buffer<B extends Tensor | Counter>(name: string, b: B): B {
    if (!(b instanceof Counter)) {
      b.keep();
      b.label = name;
    }
    this.ownBuffers.push([name, b]);
    return b;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.push([name, m]);
    return m;
  }

  /** Parameters with their full names, in PyTorch's order (own first, then children's). */
  namedParameters(prefix = ''): Array<[string, Tensor]> {
    return [
      ...this.ownParameters.map(([n, t]): [string, Tensor] => [prefix + n, t]),
      ...this.children.flatMap(([n, m]) => m.namedParameters(`${prefix}${n}.`)),
    ];
  }

  namedBuffers(prefix = ''): Array<[string, Tensor | Counter]> {
    return [
      ...this.ownBuffers.map(([n, b]): [string, Tensor | Counter] => [prefix + n, b]),
      ...this.children.flatMap(([n, m]) => m.namedBuffers(`${prefix}${n}.`)),
    ];
  }

  /** Parameters and buffers, as torch's state_dict(): per module its parameters, its buffers, then its children. */
  stateDict(prefix = ''): Array<[string, Tensor | Counter]> {
    return [
      ...this.ownParameters.map(([n, t]): [string, Tensor | Counter] => [prefix + n, t]),
      ...this.ownBuffers.map(([n, b]): [string, Tensor | Counter] => [prefix + n, b]),
      ...this.children.flatMap(([n, m]) => m.stateDict(`${prefix}${n}.`)),
    ];
  }

  namedModules(prefix = ''): Array<[string, Module]> {
    return [[prefix.replace(/\.$/, ''), this], ...this.children.flatMap(([n, m]) => m.namedModules(`${prefix}${n}.`))];
  }

  /** Labels every parameter and buffer with its full name, so errors and the tape walk say 'conv3.weight'. */
  labelTensors(): void {
    for (const [name, t] of this.stateDict()) if (!(t instanceof Counter)) t.label = name;
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }
}
