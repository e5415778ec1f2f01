/** A mistake in what a person typed: reported as its message and a pointer to --help, never as a stack. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Runs an argument parser, turning what it throws into a UsageError the CLI prints as such. */
export function parsedOrUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
