// The mutant runner's pure parts: a mutant whose find text is not there exactly once, or whose
// tests do not exist, is reported as broken instead of being run; the edit replaces literally.
import t from 'tap';
import { applyMutant, countOccurrences, duplicateIds, mutantProblem, type Mutant } from './list.ts';
import { MUTANTS } from './mutants.ts';

const files: Record<string, string> = {
  'engine/x.ts': 'export const RATE = 0.1;\nexport const OTHER = 0.1;\n',
  'test/x.test.ts': '',
};
const read = (path: string) => files[path];

const mutant = (overrides: Partial<Mutant>): Mutant => ({
  id: 'rate',
  description: 'the rate doubled',
  file: 'engine/x.ts',
  find: 'RATE = 0.1;',
  replace: 'RATE = 0.2;',
  tests: ['test/x.test.js'],
  ...overrides,
});

t.test('a find text that occurs once can be run', async (t) => {
  t.equal(mutantProblem(mutant({}), read), undefined);
});

t.test('a find text that occurs zero or two times is reported', async (t) => {
  t.equal(mutantProblem(mutant({ find: 'RATE = 0.3;' }), read), 'the find text does not occur in engine/x.ts');
  t.equal(mutantProblem(mutant({ find: '= 0.1;' }), read), 'the find text occurs 2 times in engine/x.ts, not once');
  t.equal(countOccurrences('aaa', 'aa'), 2, 'overlapping occurrences count: the edit point would be ambiguous');
  t.equal(mutantProblem(mutant({ find: '' }), read), 'the find text is empty');
  t.equal(mutantProblem(mutant({ replace: 'RATE = 0.1;' }), read), 'the replacement equals the find text, so nothing would change');
});

t.test('missing files and tests are reported, not run', async (t) => {
  t.equal(mutantProblem(mutant({ file: 'engine/y.ts' }), read), 'engine/y.ts: no such file');
  t.equal(mutantProblem(mutant({ tests: ['test/x.test.js', 'test/y.test.js'] }), read), 'missing test file test/y.test.js');
  t.equal(mutantProblem(mutant({ tests: [] }), read), 'names no test to kill it');
  t.equal(mutantProblem(mutant({ tests: ['test/x.test.ts'] }), read), 'test/x.test.ts: not a compiled test file (test/....test.js)');
});

t.test('the edit replaces the one occurrence, literally, or nothing', async (t) => {
  t.equal(applyMutant(files['engine/x.ts'], mutant({})), 'export const RATE = 0.2;\nexport const OTHER = 0.1;\n');
  t.equal(applyMutant('a b c', mutant({ find: 'b', replace: '$&$&' })), 'a $&$& c', 'no replacement patterns');
  t.equal(applyMutant('a b b', mutant({ find: 'b' })), undefined, 'not where the find text is ambiguous');
  t.equal(applyMutant('a c', mutant({ find: 'b' })), undefined, 'nor where it is gone');
});

t.test('the list names each mutant once, with compiled test files', async (t) => {
  t.same(duplicateIds([mutant({}), mutant({ id: 'other' }), mutant({})]), ['rate']);
  t.same(duplicateIds(MUTANTS), []);
  for (const m of MUTANTS) t.ok(m.tests.length > 0 && m.tests.every((test) => test.endsWith('.test.js')), `${m.id}: ${m.tests.join(', ')}`);
});
