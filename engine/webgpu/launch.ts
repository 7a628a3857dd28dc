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
  /** The bytes of the `params` uniform struct, from its UniformStruct's pack(). */
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

/** WGSL types a uniform field may have: 4-byte scalars, and arrays of vec4<u32> (per-axis shapes and strides). */
export type UniformFieldType = 'u32' | 'i32' | 'f32' | `array<vec4<u32>, ${number}>`;

/** One field of a uniform struct as the shader declares it: its name and WGSL type. */
export type UniformField = readonly [name: string, type: UniformFieldType];

/** What pack() takes: a number per scalar field, the elements of each array field (missing trailing elements are 0). */
export type UniformValues<F extends readonly UniformField[]> = {
  [E in F[number] as E[0]]: E[1] extends 'u32' | 'i32' | 'f32' ? number : readonly number[];
};

/**
 * The TypeScript side of a shader's `params` struct: its fields in declaration order, so that
 * values are packed by name and test/engine/uniform-structs.test.ts can check every shader's
 * declaration against it.
 */
export interface UniformStruct<F extends readonly UniformField[] = readonly UniformField[]> {
  /** The struct's name in WGSL; unique across shaders/. */
  readonly name: string;
  readonly fields: F;
  /** Kernels (shader stems) that declare only the leading fields they read; every other shader declares all. */
  readonly prefixKernels: readonly string[];
  pack(values: UniformValues<F>): ArrayBuffer;
}

const uniformStructs = new Map<string, UniformStruct>();

/** Every struct defined so far, by name: the modules that pack them add them when loaded. */
export function definedUniformStructs(): ReadonlyMap<string, UniformStruct> {
  return uniformStructs;
}

/** The byte offset of each field under WGSL's uniform layout rules, and the buffer size (a multiple of 16). */
function placeFields(fields: readonly UniformField[]): { offsets: number[]; size: number } {
  const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;
  const offsets: number[] = [];
  let end = 0;
  for (const [, type] of fields) {
    const vec4s = arrayLength(type);
    const offset = vec4s === undefined ? end : roundUp(end, 16);
    offsets.push(offset);
    end = offset + (vec4s === undefined ? 4 : 16 * vec4s);
  }
  return { offsets, size: Math.max(16, roundUp(end, 16)) };
}

/** The number of vec4s of an array type, undefined for a scalar. */
function arrayLength(type: UniformFieldType): number | undefined {
  const match = /^array<vec4<u32>, (\d+)>$/.exec(type);
  return match ? Number(match[1]) : undefined;
}

/** Declares the uniform struct `name` with its fields in the shader's order; defined once, next to the launch code that packs it. */
export function defineUniformStruct<const F extends readonly UniformField[]>(
  name: string,
  fields: F,
  options: { prefixKernels?: readonly string[] } = {},
): UniformStruct<F> {
  if (uniformStructs.has(name)) throw new Error(`uniform struct ${name} is defined twice`);
  const { offsets, size } = placeFields(fields);
  const integer = (field: string, value: number) => {
    if (!Number.isInteger(value)) throw new Error(`${name}.${field} is ${value}; it is an integer field`);
    return value;
  };
  const struct: UniformStruct<F> = {
    name,
    fields,
    prefixKernels: options.prefixKernels ?? [],
    pack(values) {
      const bytes = new ArrayBuffer(size);
      const view = new DataView(bytes);
      fields.forEach(([field, type], i) => {
        const value = (values as Record<string, number | readonly number[]>)[field];
        if (type === 'f32') view.setFloat32(offsets[i], value as number, true);
        else if (type === 'i32') view.setInt32(offsets[i], integer(field, value as number), true);
        else if (type === 'u32') view.setUint32(offsets[i], integer(field, value as number) >>> 0, true);
        else {
          const elements = value as readonly number[];
          const capacity = 4 * arrayLength(type)!;
          if (elements.length > capacity) throw new Error(`${name}.${field} holds ${capacity} values, got ${elements.length}`);
          elements.forEach((e, k) => view.setUint32(offsets[i] + 4 * k, integer(field, e) >>> 0, true));
        }
      });
      return bytes;
    },
  };
  uniformStructs.set(name, struct);
  return struct;
}

export function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}
