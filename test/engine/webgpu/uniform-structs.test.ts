// Every shader's `params` struct against the TypeScript layout that packs it (engine/webgpu/launch.ts):
// the same field names, in the same order, with the same types. The struct is read from the raw
// shader text, before the unroll directives are expanded: they are comments, and structs are plain.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { definedUniformStructs } from '../../../engine/webgpu/launch.ts';
import { indexShaders } from '../../../engine/platform/shader-files.ts';
// The modules that define the layouts, loaded for that side effect: the registry brings every op.
import '../../../engine/ops/registry.ts';
import '../../../nn/optim/adam.ts';
import '../../../nn/optim/sgd.ts';

interface DeclaredStruct {
  name: string;
  fields: Array<[string, string]>;
}

/** Splits at commas outside angle brackets, so `array<vec4<u32>, 2>` stays one type. */
function splitTopLevel(body: string): string[] {
  const parts = [''];
  let depth = 0;
  for (const ch of body) {
    if (ch === '<') depth++;
    if (ch === '>') depth--;
    if (ch === ',' && depth === 0) parts.push('');
    else parts[parts.length - 1] += ch;
  }
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

/** The struct a shader binds as `var<uniform> params`, with its fields' names and types as written. */
function uniformStruct(source: string, file: string): DeclaredStruct {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const bound = new Set([...code.matchAll(/var<uniform>\s+params\s*:\s*(\w+)\s*;/g)].map((m) => m[1]));
  if (bound.size !== 1) throw new Error(`${file}: binds ${bound.size === 0 ? 'no' : [...bound].join(' and ')} struct as var<uniform> params; expected one`);
  const [name] = bound;
  const bodies = [...code.matchAll(new RegExp(`\\bstruct\\s+${name}\\s*\\{([^}]*)\\}`, 'g'))];
  if (bodies.length !== 1) throw new Error(`${file}: declares struct ${name} ${bodies.length} times; expected once`);
  const fields = splitTopLevel(bodies[0][1]).map((field): [string, string] => {
    const match = /^(\w+)\s*:\s*([\s\S]+)$/.exec(field);
    if (!match) throw new Error(`${file}: cannot read the field '${field}' of ${name}`);
    return [match[1], match[2].replace(/\s+/g, '').replace(/,/g, ', ')];
  });
  return { name, fields };
}

const layouts = definedUniformStructs();
const declared = new Map([...indexShaders()].map(([kernel, url]) => [kernel, uniformStruct(readFileSync(url, 'utf8'), url.pathname)]));

t.test('every shader declares its params struct as its TypeScript layout does', async (t) => {
  for (const [kernel, struct] of [...declared].sort(([a], [b]) => a.localeCompare(b))) {
    const layout = layouts.get(struct.name);
    if (!layout) {
      t.fail(`${kernel}.wgsl binds ${struct.name}, which no defineUniformStruct describes`);
      continue;
    }
    const fields = layout.fields.map(([name, type]) => [name, type]);
    if (layout.prefixKernels.includes(kernel)) {
      t.ok(struct.fields.length < fields.length, `${kernel}: listed as declaring a prefix of ${struct.name}, and does`);
      t.same(struct.fields, fields.slice(0, struct.fields.length), `${kernel}: declares the first ${struct.fields.length} of ${fields.length} fields of ${struct.name} (a prefix its layout allows)`);
    } else {
      t.same(struct.fields, fields, `${kernel}: ${struct.name} as in TypeScript`);
    }
  }
});

t.test('every TypeScript layout is bound by a shader, and its prefix kernels exist', async (t) => {
  const bound = new Set([...declared.values()].map((s) => s.name));
  for (const [name, layout] of layouts) {
    t.ok(bound.has(name), `${name} is bound by some shader`);
    for (const kernel of layout.prefixKernels) t.equal(declared.get(kernel)?.name, name, `${name}: prefix kernel ${kernel} binds it`);
  }
});
