/** A mistake in what a person typed: reported as its message and a pointer to --help, never as a stack. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
