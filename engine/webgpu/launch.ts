// The seam between an op and the WebGPU runtime: a pure description of one compute dispatch.
// Ops compute a KernelLaunch from shapes (no GPU objects), so the arithmetic of tiles and
// workgroup counts is testable without a device; the runtime turns it into a pipeline, a bind
// group and a dispatch.
//
// Binding convention for every shader in shaders/: @group(0), storage buffers at bindings
// 0..n-1 in the order the op passes them, then the uniform struct `params` at binding n
// (always present, even if the kernel reads nothing from it, so the layout is uniform).

export type Access = 'read' | 'read_write';

export interface KernelLaunch {
  /** Shader file stem anywhere under shaders/, e.g. 'matmul' for shaders/matmul.wgsl. */
  kernel: string;
  /** Entry point; 'main' when omitted. */
  entryPoint?: string;
  /** Values for the shader's `override` constants (tile and workgroup sizes). */
  constants?: Record<string, number>;
  /** Values for the shader's //#for and ${...} directives, expanded before compilation (unroll.ts). */
  unroll?: Record<string, number>;
  /** Access mode of each storage binding, in binding order. */
  access: Access[];
  /** The bytes of the `params` uniform struct (u32/i32/f32 fields, 4 bytes each). */
  uniforms: ArrayBuffer;
  /** Workgroup counts in x, y, z. */
  workgroups: [number, number, number];
  /** Shapes to print when the kernel fails to compile or validate, e.g. 'a[8,8192] b[8192,2048]'. */
  describe: string;
}

/** What launch arithmetic may depend on about the adapter (a subset of engine/device.ts's AdapterSummary). */
export interface AdapterTraits {
  kind: 'software' | 'hardware';
  /** The subgroup size where the device has subgroups and every subgroup has that size. */
  subgroupSize?: number;
}

/** Packs a uniform struct whose fields are all 4 bytes wide; `f32` marks float fields. */
export function packUniforms(fields: Array<number | { f32: number }>): ArrayBuffer {
  const padded = Math.max(16, Math.ceil(fields.length / 4) * 16);
  const bytes = new ArrayBuffer(padded);
  const u32 = new Uint32Array(bytes);
  const f32 = new Float32Array(bytes);
  fields.forEach((field, i) => {
    if (typeof field === 'number') {
      if (!Number.isInteger(field)) throw new Error(`uniform field ${i} is ${field}; wrap floats as { f32: value }`);
      u32[i] = field >>> 0;
    } else f32[i] = field.f32;
  });
  return bytes;
}

export function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}
