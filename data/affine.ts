// gl-matrix's create() and fromValues() allocate Float32; crops of large photos need Float64 so that
// translations of thousands of pixels keep sub-millipixel precision.
import type { mat2d } from 'gl-matrix';

export function affine(a: number, b: number, c: number, d: number, tx: number, ty: number): mat2d {
  return new Float64Array([a, b, c, d, tx, ty]);
}

export function identityAffine(): mat2d {
  return affine(1, 0, 0, 1, 0, 0);
}
