/** A command's I/O in memory, for the CLI tests: what it wrote to stdout and stderr. */
import type { CliIO } from '../../src/cli/follow.js';

export function io(): CliIO & { out(): string; err(): string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: {},
    out: () => out,
    err: () => err,
  };
}
