/**
 * Vitest's global setup for the browser tests: the console they load is the
 * build in web/dist, made here once per run when it is missing or older than
 * its sources (.ci/run has built it already), never by two test files at once.
 */
import { ensureBuilt } from './harness.js';

export default function setup(): void {
  ensureBuilt();
}
