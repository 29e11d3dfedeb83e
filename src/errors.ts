/**
 * The one error type that crosses module boundaries: a problem with something the user gave us
 * (a file, a flag, a config value). The CLI prints `message` as one line and exits with code 2;
 * anything else is a bug and keeps its stack trace.
 *
 * This module is a leaf: every folder may import it.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  /** @param source what the problem is in: a file path, a flag (`--vocab-size`) or a config key. */
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    super(`${source}: ${problem}`);
  }
}

export function isInputError(e: unknown): e is InputError {
  return e instanceof Error && e.name === 'InputError';
}
