// The pure parts of `npm run mutants`: what a mutant is, whether one can be run as listed, and
// the edit itself. Kept apart from run.ts (which copies, builds and runs tap) so list.test.ts can
// check them in milliseconds.

/** One deliberate bug, and the tests that should notice it. */
export interface Mutant {
  /** Short name, for --only and the report. */
  id: string;
  /** What the mutant breaks, in a sentence. */
  description: string;
  /** The file edited, relative to the repository root. */
  file: string;
  /** Text that occurs exactly once in the file, so the edit lands where it was meant to. */
  find: string;
  replace: string;
  /** Compiled tap files (test/....test.js) of which at least one should fail with the mutant in. */
  tests: string[];
}

/** Occurrences of `find` in `text`, overlapping ones included: "exactly once" must mean it. */
export function countOccurrences(text: string, find: string): number {
  let count = 0;
  for (let at = text.indexOf(find); at >= 0; at = text.indexOf(find, at + 1)) count++;
  return count;
}

/**
 * Why `m` cannot be run as listed, or undefined when it can. `read` gives a repository file's
 * text, or undefined when the repository has no such file.
 */
export function mutantProblem(m: Mutant, read: (path: string) => string | undefined): string | undefined {
  if (m.find === '') return 'the find text is empty';
  if (m.find === m.replace) return 'the replacement equals the find text, so nothing would change';
  if (m.tests.length === 0) return 'names no test to kill it';
  const bad = m.tests.find((test) => !test.endsWith('.test.js'));
  if (bad !== undefined) return `${bad}: not a compiled test file (test/....test.js)`;
  // Tests are written in TypeScript; the .js that tap runs exists only after a build.
  const missing = m.tests.filter((test) => read(test.replace(/\.js$/, '.ts')) === undefined);
  if (missing.length > 0) return `missing test file ${missing.join(', ')}`;
  const text = read(m.file);
  if (text === undefined) return `${m.file}: no such file`;
  const count = countOccurrences(text, m.find);
  if (count === 0) return `the find text does not occur in ${m.file}`;
  if (count > 1) return `the find text occurs ${count} times in ${m.file}, not once`;
  return undefined;
}

/** Ids listed more than once: --only and the report need each to name one mutant. */
export function duplicateIds(mutants: readonly Mutant[]): string[] {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const { id } of mutants) (seen.has(id) ? duplicates : seen).add(id);
  return [...duplicates];
}

/**
 * `text` with the mutant's one occurrence of its find text replaced, literally (no `$` patterns);
 * undefined unless the find text occurs exactly once.
 */
export function applyMutant(text: string, m: Mutant): string | undefined {
  if (countOccurrences(text, m.find) !== 1) return undefined;
  const at = text.indexOf(m.find);
  return text.slice(0, at) + m.replace + text.slice(at + m.find.length);
}
