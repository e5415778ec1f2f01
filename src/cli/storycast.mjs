#!/usr/bin/env node
// `storycast <command> [options]`: one entry point for every tool, e.g.
// `npm run storycast -- bench --seeds 1`, or `npx storycast send --recipients 5000`
// where the package is installed. Registers tsx, then runs the command's module.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

const COMMANDS = {
  serve: ['../main.ts', 'run the gRPC server (npm start)'],
  send: ['./send.ts', 'send a story through a running server, with live progress'],
  watch: ['./watch.ts', 'follow a send by its id (past events, then live)'],
  sends: ['./sends.ts', 'list the sends a server runs or ran'],
  demo: ['./demo.ts', 'one send in process on the simulated network, no server'],
  pair: ['./pair.ts', 'link a WhatsApp account to a running server (QR or pairing code)'],
  bench: ['./bench.ts', 'the strategy lab: every strategy against the oracle'],
  experiment: ['./experiment.ts', 'A/B experiments between strategies: create, list, get, results, stop'],
  contacts: ['./contacts.ts', "a session's WhatsApp contacts (what send --all-contacts reaches)"],
  lists: ['./lists.ts', "a session's saved recipient lists: list, save, show, delete"],
  schedules: ['./schedules.ts', 'sends scheduled for later (send --at, --repeat): list, delete'],
};

const [command, ...rest] = process.argv.slice(2);
const entry = COMMANDS[command ?? ''];
if (!entry) {
  const list = Object.entries(COMMANDS)
    .map(([name, [, what]]) => `  ${name.padEnd(10)} ${what}`)
    .join('\n');
  const out = command === undefined || command === '--help' || command === '-h' ? process.stdout : process.stderr;
  out.write(
    `${command && !command.startsWith('-') ? `storycast: unknown command "${command}"\n\n` : ''}Usage: storycast <command> [options]   (each command has --help)\n\n${list}\n`,
  );
  process.exit(out === process.stdout ? 0 : 2);
}
register();
const file = resolve(fileURLToPath(new URL('.', import.meta.url)), entry[0]);
// The command's module reads its options from process.argv, as when it is run by itself.
process.argv = [process.argv[0], file, ...rest];
await import(file);
