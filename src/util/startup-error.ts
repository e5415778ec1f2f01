/**
 * How every entry point (the server, demo, bench, send, pair) reports what
 * stopped it: a problem the person running it can fix (config, an option, a
 * strategy module, a port in use, a file it cannot write) as one line;
 * anything else with its stack, because then it is a bug to report.
 */

/**
 * Errors whose message says all there is to say. Matched by name, so that
 * this module loads nothing: a CLI must not pull in the server or Baileys to
 * print an error.
 */
const READABLE = new Set(['ConfigError', 'StrategyLoadError', 'StartupError', 'UsageError', 'ApiKeysError']);

export interface StartupErrorOptions {
  /** Every error is the person's to fix (a tool whose errors all come from its options and files). */
  readonly alwaysBrief?: boolean;
}

export function describeStartupError(program: string, error: unknown, { alwaysBrief = false }: StartupErrorOptions = {}): string {
  if (!(error instanceof Error)) return `${program}: ${String(error)}`;
  const { syscall } = error as NodeJS.ErrnoException;
  if (syscall === 'listen') return `${program}: cannot listen: ${error.message}`;
  // Node's system errors (EACCES, ENOENT, …) are about the machine, not the code.
  if (alwaysBrief || READABLE.has(error.name) || typeof syscall === 'string') return `${program}: ${error.message}`;
  return `${program}: unexpected error: ${error.stack ?? error.message}`;
}

/** For an entry point's last `.catch`: prints the description and exits 1. */
export function exitOnStartupError(program: string, options?: StartupErrorOptions): (error: unknown) => never {
  return (error) => {
    process.stderr.write(`${describeStartupError(program, error, options)}\n`);
    process.exit(1);
  };
}
