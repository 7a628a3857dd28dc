// Tensors as text small enough to read: nested brackets, fixed significant digits.
import type { Shape } from './shape.ts';

export function formatValues(values: ArrayLike<number>, shape: Shape, digits = 4, indent = ''): string {
  const cell = (v: number) => {
    const text = v === 0 ? '0' : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(digits - 1) : v.toPrecision(digits);
    return text.padStart(digits + 6);
  };
  const build = (dim: number, offset: number): string => {
    if (shape.length === 0) return cell(values[0]);
    const stride = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
    if (dim === shape.length - 1) return `[${Array.from({ length: shape[dim] }, (_, i) => cell(values[offset + i])).join('')} ]`;
    const rows = Array.from({ length: shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    // Rows of a matrix on consecutive lines; a blank line between matrices.
    const separator = (dim === shape.length - 2 ? '\n' : '\n\n') + ' '.repeat(dim + 1);
    return `[${rows.join(separator)}]`;
  };
  return build(0, 0)
    .split('\n')
    .map((line) => (line.trim() === '' ? '' : indent + line))
    .join('\n');
}
