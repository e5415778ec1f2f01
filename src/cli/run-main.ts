/**
 * The tail every CLI module shares: run the command when its module is the
 * process's entry point (`tsx src/cli/sends.ts …`), not when it is imported
 * (by the tests, or by `storycast.mjs`, which dispatches to it), and turn what
 * stopped it into an exit code and one line.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitOnStartupError } from '../util/startup-error.js';

export function runIfMain(moduleUrl: string, program: string, command: (argv: string[]) => Promise<number>): void {
  if (process.argv[1] === undefined || resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  command(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  }, exitOnStartupError(program));
}
