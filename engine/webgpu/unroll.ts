// Compile-time unrolling for WGSL kernels.
//
// WGSL has no unroll attribute, and Dawn's compilers (and Mesa's NIR under lavapipe) unroll only
// small loops; a loop they keep turns every array it indexes into memory with per-lane gathers.
// Kernels whose register blocks must stay in registers (shaders/matmul_subgroup.wgsl) therefore
// spell their blocks out with two directives, expanded here before compilation:
//
//   //#for NAME in FROM..TO        repeat the lines up to the matching //#end for NAME = FROM .. TO-1
//   //#if EXPR                     keep the lines up to the matching //#end only if EXPR is not 0
//   //#end
//   ${EXPR}                        anywhere in a line: the integer value of EXPR
//
// EXPR is integer arithmetic (+ - * / %, parentheses; / rounds down) over numbers, the enclosing
// loop variables and the launch's `unroll` parameters, with at most one comparison (< > ==, 1 when
// true, 0 when false: `${4 + 2 * (SETS > 0)}` for bindings that exist only with some sets). FROM, TO and the condition are EXPRs too.
// Blocks nest.

export type UnrollParams = Record<string, number>;

/** Expands the directives of `source` with `params`; the result is plain WGSL. */
export function expandUnrolled(source: string, params: UnrollParams, file = 'shader'): string {
  const lines = source.split('\n');
  const out: string[] = [];
  expandBlock(lines, 0, lines.length, { ...params }, out, file);
  return out.join('\n');
}

const FOR = /^\s*\/\/#for\s+([A-Za-z_]\w*)\s+in\s+(.+?)\.\.(.+?)\s*$/;
const IF = /^\s*\/\/#if\s+(.+?)\s*$/;
const END = /^\s*\/\/#end\s*$/;

function expandBlock(lines: string[], from: number, to: number, scope: UnrollParams, out: string[], file: string): void {
  for (let i = from; i < to; i++) {
    const condition = IF.exec(lines[i]);
    if (condition) {
      const end = matchingEnd(lines, i, to, file);
      if (evaluate(condition[1], scope, file, i + 1) !== 0) expandBlock(lines, i + 1, end, scope, out, file);
      i = end;
      continue;
    }
    const loop = FOR.exec(lines[i]);
    if (!loop) {
      if (END.test(lines[i])) throw new Error(`${file}:${i + 1}: //#end without //#for or //#if`);
      out.push(substitute(lines[i], scope, file, i + 1));
      continue;
    }
    const end = matchingEnd(lines, i, to, file);
    const [, name, fromExpr, toExpr] = loop;
    const first = evaluate(fromExpr, scope, file, i + 1);
    const last = evaluate(toExpr, scope, file, i + 1);
    for (let value = first; value < last; value++) {
      expandBlock(lines, i + 1, end, { ...scope, [name]: value }, out, file);
    }
    i = end;
  }
}

function matchingEnd(lines: string[], start: number, to: number, file: string): number {
  let depth = 0;
  for (let i = start + 1; i < to; i++) {
    if (FOR.test(lines[i]) || IF.test(lines[i])) depth++;
    else if (END.test(lines[i])) {
      if (depth === 0) return i;
      depth--;
    }
  }
  throw new Error(`${file}:${start + 1}: ${lines[start].trim()} without //#end`);
}

function substitute(line: string, scope: UnrollParams, file: string, lineNumber: number): string {
  return line.replace(/\$\{([^{}]*)\}/g, (_, expr: string) => String(evaluate(expr, scope, file, lineNumber)));
}

/** Integer arithmetic by recursive descent: comparison := sum (('<'|'>'|'==') sum)?, sum := product (('+'|'-') product)*, and so on. */
export function evaluate(expr: string, scope: UnrollParams, file = 'shader', lineNumber = 0): number {
  const tokens = expr.match(/\d+|[A-Za-z_]\w*|==|[-+*/%()<>]|\S/g) ?? [];
  let at = 0;
  const fail = (why: string): never => {
    throw new Error(`${file}:${lineNumber}: cannot evaluate \${${expr}}: ${why}`);
  };
  const sum = (): number => {
    let value = product();
    while (tokens[at] === '+' || tokens[at] === '-') value = tokens[at++] === '+' ? value + product() : value - product();
    return value;
  };
  const product = (): number => {
    let value = factor();
    while (tokens[at] === '*' || tokens[at] === '/' || tokens[at] === '%') {
      const op = tokens[at++];
      const right = factor();
      if (op !== '*' && right === 0) fail('division by zero');
      value = op === '*' ? value * right : op === '/' ? Math.floor(value / right) : value % right;
    }
    return value;
  };
  const factor = (): number => {
    const token = tokens[at++];
    if (token === undefined) return fail('unexpected end');
    if (token === '-') return -factor();
    if (token === '(') {
      const value = comparison();
      if (tokens[at++] !== ')') fail('missing )');
      return value;
    }
    if (/^\d+$/.test(token)) return Number(token);
    if (/^[A-Za-z_]\w*$/.test(token)) {
      if (!(token in scope)) fail(`unknown name ${token}`);
      return scope[token];
    }
    return fail(`unexpected ${token}`);
  };
  const comparison = (): number => {
    const left = sum();
    const op = tokens[at];
    if (op !== '<' && op !== '>' && op !== '==') return left;
    at++;
    const right = sum();
    return Number(op === '<' ? left < right : op === '>' ? left > right : left === right);
  };
  const value = comparison();
  if (at !== tokens.length) fail(`unexpected ${tokens[at]}`);
  return value;
}
