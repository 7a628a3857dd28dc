// An op without a witness fails here: every op defined with defineOp is named by a witness in
// engine/ops/registry.ts or listed there with the reason it has none, and every witness names a
// defined op unless it is marked as a composite function.
import { readdirSync } from 'node:fs';
import t from 'tap';
import { definedOpNames } from '../../engine/ops/op.ts';
import { registry, unwitnessed } from '../../engine/ops/registry.ts';

// Every module under engine/ops is loaded, so that an op family left out of the registry is caught too.
const opsDir = new URL('../../engine/ops/', import.meta.url);
const extension = import.meta.url.slice(import.meta.url.lastIndexOf('.'));
for (const file of readdirSync(opsDir, { recursive: true, encoding: 'utf8' })) {
  if (file.endsWith(extension)) await import(new URL(file.split('\\').join('/'), opsDir).href);
}

const ops = definedOpNames();
const witnessed = new Set(registry.filter((w) => !w.composite).map((w) => w.op));

t.test('every defined op has a witness or a listed reason for having none', async (t) => {
  for (const name of [...ops].sort()) {
    const reason = unwitnessed[name];
    if (witnessed.has(name)) t.equal(reason, undefined, `${name}: has a witness, so it is not listed as unwitnessed`);
    else t.ok(reason, `${name}: ${reason ?? 'no witness, and no reason in registry.ts unwitnessed'}`);
  }
});

t.test('every witness names a defined op or is marked composite', async (t) => {
  for (const w of registry) {
    if (w.composite) t.notOk(ops.has(w.op), `${w.op}: a composite, and no op has that name`);
    else t.ok(ops.has(w.op), `${w.op}: a defined op`);
  }
});

t.test('every op listed as unwitnessed is defined', async (t) => {
  for (const name of Object.keys(unwitnessed)) t.ok(ops.has(name), `${name}: a defined op`);
});
