// `npm run setup`: the tools the test suite drives for real (redis-server, chromium, grpcurl, grpc-health-probe,
// ghz, the Python client's packages), installed once on a fresh machine: Debian's redis-server and chromium,
// the Go tools with `go install` at pinned versions, pip. What is there already is left alone;
// anything it cannot install is named with the command to run. `.ci/run` runs it too.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const GRPCURL = 'github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4';
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const run = (cmd, args, env = {}) => execFileSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
const problems = [];

// Debian packages: redis-server, and chromium for the web console's browser tests (playwright-core
// drives it at /usr/bin/chromium: playwright's own browser download is not available everywhere).
const DEBIAN = { 'redis-server': 'redis-server', chromium: 'chromium' };
const missingDebian = Object.entries(DEBIAN).filter(([cmd]) => !has(cmd));
if (missingDebian.length > 0) {
  const packages = missingDebian.map(([, pkg]) => pkg);
  if (process.getuid?.() === 0 && has('apt-get')) {
    console.log(`setup: installing ${packages.join(', ')} (Debian packages)`);
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', ...packages], { DEBIAN_FRONTEND: 'noninteractive' });
  } else problems.push(`${packages.join(', ')} missing: sudo apt-get install -y ${packages.join(' ')}`);
}

// The tools people point at a gRPC server first, run against ours in the suite.
const GO_TOOLS = {
  grpcurl: GRPCURL,
  'grpc-health-probe': 'github.com/grpc-ecosystem/grpc-health-probe@v0.4.62',
  ghz: 'github.com/bojand/ghz/cmd/ghz@v0.121.0',
};
const gopath = has('go') ? execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim() : undefined;
for (const [tool, module] of Object.entries(GO_TOOLS)) {
  if (gopath && existsSync(join(gopath, 'bin', tool))) continue;
  if (gopath) {
    console.log(`setup: installing ${tool} (go install ${module})`);
    run('go', ['install', module], { GOFLAGS: '-mod=mod' });
  } else problems.push(`${tool} is missing: install Go, then go install ${module}`);
}

// The Python client's example and tests run against the server in the suite.
if (spawnSync('python3', ['-c', 'import grpc, grpc_status, google.rpc.error_details_pb2'], { stdio: 'ignore' }).status !== 0) {
  if (has('python3')) {
    console.log('setup: installing the Python client requirements (pip)');
    run('python3', ['-m', 'pip', 'install', '--quiet', '-r', new URL('../clients/python/requirements.txt', import.meta.url).pathname]);
  } else problems.push('python3 is missing: the Python client example needs it');
}

if (problems.length > 0) {
  console.error(`setup: the test suite needs:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
