/**
 * The one error type that crosses module boundaries: a problem with something the user gave us
 * (a file, a flag, a config value). The CLI prints `message` as one line and exits with code 2;
 * anything else is a bug and keeps its stack trace.
 *
 * This module is a leaf: every folder may import it.
 */
const MAX_MESSAGE = 600;

export class InputError extends Error {
  override readonly name = 'InputError';
  /** @param source what the problem is in: a file path, a flag (`--vocab-size`) or a config key. */
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    // One line, whatever the problem quotes (a JSON parser's excerpt of a mutated file holds newlines),
    // and a readable one: a quoted value of 10,000 characters is cut.
    const line = `${source}: ${problem}`.replace(/\s*[\r\n]+\s*/g, ' ');
    super(line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE)}… (${line.length - MAX_MESSAGE} more characters)` : line);
  }
}

export function isInputError(e: unknown): e is InputError {
  return e instanceof Error && e.name === 'InputError';
}
