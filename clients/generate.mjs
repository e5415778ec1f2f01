// `npm run generate`: every generated stub from proto/, in one step.
// - TypeScript (src/gen for the server, clients/typescript for callers): buf with protoc-gen-es (root buf.gen.yaml).
// - Go (clients/go): buf with protoc-gen-go and protoc-gen-go-grpc, installed with `go install` at pinned versions.
// - Python (clients/python): grpcio-tools, which is not a protoc plugin, run as its own step.
// Missing generators are installed first, so this works on a fresh machine.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const GO_PLUGINS = {
  'protoc-gen-go': 'google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12',
  'protoc-gen-go-grpc': 'google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2',
};

const run = (cmd, args, options = {}) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
const buf = join(root, 'node_modules', '.bin', 'buf');

run(buf, ['generate']);

if (existsSync(join(root, 'clients', 'go', 'buf.gen.yaml'))) {
  const gobin = join(execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim(), 'bin');
  for (const [tool, module] of Object.entries(GO_PLUGINS)) {
    if (!existsSync(join(gobin, tool))) run('go', ['install', module], { env: { ...process.env, GOFLAGS: '-mod=mod' } });
  }
  run(buf, ['generate', '--template', 'clients/go/buf.gen.yaml', '--path', 'proto/storycast'], {
    env: { ...process.env, PATH: `${gobin}${delimiter}${process.env.PATH}` },
  });
}

if (existsSync(join(root, 'clients', 'python', 'generate.sh'))) {
  if (spawnSync('python3', ['-c', 'import grpc_tools'], { stdio: 'ignore' }).status !== 0) {
    run('python3', ['-m', 'pip', 'install', '--quiet', '-r', 'clients/python/requirements-dev.txt']);
  }
  run('bash', ['generate.sh'], { cwd: join(root, 'clients', 'python') });
}
