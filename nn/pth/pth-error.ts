// The one error a .pth read throws: a file that is damaged or not a state dict, or one refused
// because its pickle asks for something a state dict never needs. Either way the message is one
// line that starts with the file's name.
export class PthError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'PthError';
  }
}

/** A damaged or unexpected file: truncated, a size that does not add up, a structure that is not a state dict. */
export function unreadable(file: string, problem: string): PthError {
  return new PthError(file, `not a readable PyTorch checkpoint: ${problem}`);
}

/**
 * A file refused for what its pickle asks to do (a global outside the allow-list, an opcode a
 * state dict never uses). Nothing was executed: the reader only interprets pickle opcodes and
 * has no way to run the file's code, which the message says, since that is what a user fears.
 */
export function refused(file: string, problem: string): PthError {
  return new PthError(file, `refused, nothing in it was run: ${problem}`);
}
