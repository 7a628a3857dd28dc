import t from 'tap';
import { evaluate, expandUnrolled } from '../../../engine/webgpu/unroll.ts';

t.test('//#for repeats its lines with the loop variable substituted, nested', async (t) => {
  const source = ['a', '//#for i in 0..N', '  x${i}', '//#for j in i..2', '  y${i * 10 + j}', '//#end', '//#end', 'b'].join('\n');
  t.equal(expandUnrolled(source, { N: 2 }), ['a', '  x0', '  y0', '  y1', '  x1', '  y11', 'b'].join('\n'));
  t.equal(expandUnrolled(source, { N: 0 }), 'a\nb', 'an empty range expands to nothing');
});

t.test('//#if keeps its block only when the condition is not zero', async (t) => {
  const source = ['//#if T', 'yes', '//#end', '//#if 1 - T', 'no', '//#end'].join('\n');
  t.equal(expandUnrolled(source, { T: 1 }), 'yes');
  t.equal(expandUnrolled(source, { T: 0 }), 'no');
});

t.test('WGSL braces and comments pass through untouched', async (t) => {
  const line = 'fn main() { if (x) { return; } } // {not a directive}';
  t.equal(expandUnrolled(line, {}), line);
});

t.test('expressions: precedence, parentheses, integer division and remainder', async (t) => {
  t.equal(evaluate('2 + 3 * 4', {}), 14);
  t.equal(evaluate('(2 + 3) * 4', {}), 20);
  t.equal(evaluate('7 / 2 + 7 % 2', {}), 4);
  t.equal(evaluate('-R + 10', { R: 4 }), 6);
  t.equal(evaluate('5 + 2 * (SETS > 0)', { SETS: 0 }), 5, 'a false comparison is 0');
  t.equal(evaluate('5 + 2 * (SETS > 0)', { SETS: 3 }), 7, 'a true comparison is 1');
  t.equal(evaluate('SETS == 3', { SETS: 3 }) + evaluate('1 < 0', {}), 1);
});

t.test('mistakes name the file and line', async (t) => {
  t.throws(() => expandUnrolled('ok\nx${Q}', {}, 'k.wgsl'), /k\.wgsl:2: cannot evaluate \$\{Q\}: unknown name Q/);
  t.throws(() => expandUnrolled('//#for i in 0..2\nx', {}, 'k.wgsl'), /k\.wgsl:1: \/\/#for i in 0\.\.2 without \/\/#end/);
  t.throws(() => expandUnrolled('//#end', {}, 'k.wgsl'), /k\.wgsl:1: \/\/#end without/);
  t.throws(() => evaluate('4 / (2 - 2)', {}), /division by zero/);
  t.throws(() => evaluate('2 +', {}), /unexpected end/);
});
