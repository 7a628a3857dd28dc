// Errors about input data carry the file and 1-based line they came from, so a person can go and look.
export class SourceError extends Error {
  constructor(readonly file: string, readonly line: number | undefined, readonly problem: string) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${problem}`);
    this.name = 'SourceError';
  }
}
