/**
 * Vitest's global setup: the suite drives a real redis-server, chromium, grpcurl,
 * grpc-health-probe, ghz and the Python client, and installs none of them.
 * A missing tool stops the run at once with the one command that installs
 * them all, rather than as a puzzling failure in the middle of a test.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

export function missingTools(): string[] {
  const missing: string[] = [];
  if (!has('redis-server')) missing.push('redis-server');
  // The web console's browser tests drive Debian's chromium (scripts/setup.mjs installs it).
  if (!has('chromium')) missing.push('chromium');
  const gopath = has('go') ? spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).stdout.trim() : '';
  for (const tool of ['grpcurl', 'grpc-health-probe', 'ghz']) {
    if (!gopath || !existsSync(join(gopath, 'bin', tool))) missing.push(tool);
  }
  if (spawnSync('python3', ['-c', 'import grpc, grpc_status, google.rpc.error_details_pb2'], { stdio: 'ignore' }).status !== 0) {
    missing.push("the Python client's packages (grpcio, grpcio-status)");
  }
  return missing;
}

export default function setup(): void {
  const missing = missingTools();
  if (missing.length > 0) {
    throw new Error(`the test suite needs ${missing.join(', ')}: run \`npm run setup\` once, then \`npm test\` again`);
  }
}
