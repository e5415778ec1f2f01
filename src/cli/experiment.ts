/**
 * `npm run storycast -- experiment <create|list|get|update|results|stop>`: A/B
 * experiments between strategies through ExperimentService. The syntax of
 * what is typed is checked here; everything else (strategies, weights, how
 * many arms) is the server's to refuse, and its refusal is printed as it gives it.
 */
import { runIfMain } from './run-main.js';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type MessageInitShape, toJson } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import {
  type Experiment,
  ExperimentSchema,
  ExperimentService,
  ExperimentState,
  ExperimentUnit,
  GetExperimentResultsResponseSchema,
} from '../gen/storycast/v1/experiment_service_pb.js';
import { type ServerTarget, serverTransport, SERVER_OPTIONS, serverTargetFrom } from './connection.js';
import { authHint, codeName, describeError, errorInfo, errorJson } from './errors.js';
import { distributionSvg, NOT_COMPUTABLE } from './experiment-chart.js';
import { formatExperiment, formatExperimentList, formatResults } from './experiment-format.js';
import { write, type CliIO } from './follow.js';
import type { Protocol } from './server-address.js';
import { parsedOrUsage, UsageError } from './usage-error.js';

export const EXPERIMENT_HELP = `Usage: npm run storycast -- experiment <command> [options]

A/B experiments between batch-size strategies: sends that name an experiment
(SendStory's "experiment") get an arm's strategy and count for that arm.

  create KEY --arm NAME=STRATEGY[:WEIGHT] --arm ... --control NAME
         [--unit session|send] [--coverage 0..1] [--description TEXT]
                 start an experiment; weights default to 1; --control names one arm
  list [--state running|stopped]
                 the experiments, newest first
  get KEY        one experiment
  update KEY [--coverage 0..1] [--weight ARM=N ...] [--description TEXT]
                 change what may change while it runs: a unit already in an arm keeps it
  results KEY [--chart FILE.svg]
                 per arm: units, sends, time per 1,000 recipients and more with
                 95% CIs; each arm against the control; the split check; the verdict.
                 --chart draws each arm's distribution, box, mean and CI as SVG
  stop KEY [--winner ARM]
                 stop assigning: new sends get the winner's strategy (default: the control)

Options for every command:
  --server URL    storycast server (default: $STORYCAST_SERVER, else http://127.0.0.1:50051)
  --protocol P    grpc (default) or connect
  --api-key KEY   the API key, when the server needs one (default: $STORYCAST_API_KEY,
                  which is better: other users can see a command line); changing an
                  experiment needs an admin key for every session
  --json          proto JSON instead of text (list: one object per line)
  -h, --help      show this help

"${NOT_COMPUTABLE}" marks a number that cannot be computed yet (too few units or sends).
Exit codes: 0 done, 1 a bad option, or the server refused or is unreachable.

Examples:
  npm run storycast -- experiment create bracket-vs-adaptive \\
      --arm control=adaptive --arm bracket=bracket --control control
  npm run storycast -- experiment results bracket-vs-adaptive --chart results.svg
  npm run storycast -- experiment stop bracket-vs-adaptive --winner bracket`;

const SUBCOMMANDS = ['create', 'list', 'get', 'update', 'results', 'stop'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

const COMMON = {
  ...SERVER_OPTIONS,
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Each subcommand takes its own options, so a misplaced one (e.g. --winner on create) is an error, not ignored. */
const OPTIONS = {
  create: {
    ...COMMON,
    arm: { type: 'string', multiple: true },
    control: { type: 'string', multiple: true },
    unit: { type: 'string' },
    coverage: { type: 'string' },
    description: { type: 'string' },
  },
  list: { ...COMMON, state: { type: 'string' } },
  get: COMMON,
  update: { ...COMMON, coverage: { type: 'string' }, weight: { type: 'string', multiple: true }, description: { type: 'string' } },
  results: { ...COMMON, chart: { type: 'string' } },
  stop: { ...COMMON, winner: { type: 'string' } },
} as const;

type ExperimentInit = MessageInitShape<typeof ExperimentSchema>;

export type ExperimentCommand = {
  readonly server: string;
  readonly protocol: Protocol;
  readonly apiKey: string | undefined;
  readonly json: boolean;
} & (
  | { readonly command: 'create'; readonly experiment: ExperimentInit }
  | { readonly command: 'list'; readonly state: ExperimentState }
  | { readonly command: 'get'; readonly key: string }
  | {
      readonly command: 'update';
      readonly key: string;
      readonly coverage?: number;
      readonly weights: ReadonlyMap<string, number>;
      readonly description?: string;
    }
  | { readonly command: 'results'; readonly key: string; readonly chart: string | undefined }
  | { readonly command: 'stop'; readonly key: string; readonly winner: string }
);

const UNITS: Readonly<Record<string, ExperimentUnit>> = { session: ExperimentUnit.SESSION, send: ExperimentUnit.SEND };
const STATES: Readonly<Record<string, ExperimentState>> = { running: ExperimentState.RUNNING, stopped: ExperimentState.STOPPED };

/** "fast=bracket:2" -> an arm; the weight defaults to 1. Names and strategies are the server's to judge. */
export function parseArm(value: string): { name: string; strategy: string; weight: number } {
  const match = /^([^=]+)=([^:]+)(?::(\d+))?$/.exec(value.trim());
  const name = match?.[1]?.trim() ?? '';
  const strategy = match?.[2]?.trim() ?? '';
  if (!match || name === '' || strategy === '') {
    throw new UsageError(`--arm: "${value}" is not NAME=STRATEGY or NAME=STRATEGY:WEIGHT (e.g. control=adaptive or fast=bracket:2)`);
  }
  const weight = match[3] === undefined ? 1 : Number(match[3]);
  // uint32 on the wire; a million to one is already far past any sensible split.
  if (!Number.isSafeInteger(weight) || weight < 1 || weight > 1_000_000) {
    throw new UsageError(`--arm: "${value}": the weight must be a whole number from 1 to 1,000,000`);
  }
  return { name, strategy, weight };
}

/** "bracket=3": an arm's new weight. */
function parseWeight(value: string): [string, number] {
  const match = /^([^=]+)=(\d+)$/.exec(value.trim());
  const weight = Number(match?.[2]);
  if (!match || !(Number.isSafeInteger(weight) && weight >= 1 && weight <= 1_000_000)) {
    throw new UsageError(`--weight: "${value}" is not ARM=N with N a whole number from 1 to 1,000,000`);
  }
  return [match[1]!.trim(), weight];
}

function parseCoverage(value: string): number {
  const coverage = value.trim() === '' ? NaN : Number(value);
  // 0 is proto3's "not set", which the server reads as everyone: refuse it rather than invert what was meant.
  if (!(coverage > 0 && coverage <= 1)) throw new UsageError(`--coverage: "${value}" is not a share above 0 and at most 1 (e.g. 0.5)`);
  return coverage;
}

function oneKey(command: Subcommand, positionals: readonly string[]): string {
  if (positionals.length !== 1 || positionals[0]!.trim() === '') throw new UsageError(`${command}: give exactly one experiment KEY`);
  return positionals[0]!;
}

/** 'help' when --help is given anywhere: nothing else is checked then, so help always works. */
export function parseExperimentArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ExperimentCommand | 'help' {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') return 'help';
  if (!(SUBCOMMANDS as readonly string[]).includes(first)) {
    throw new UsageError(`unknown command "${first}"; one of ${SUBCOMMANDS.join(', ')}`);
  }
  const command = first as Subcommand;
  const { values: parsed, positionals } = parsedOrUsage(() =>
    parseArgs({ args: rest, options: OPTIONS[command], allowPositionals: true, strict: true }),
  );
  const values = parsed as Record<string, string | boolean | string[] | undefined>;
  if (values.help) return 'help';
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const common = {
    ...serverTargetFrom({ server: str('server'), protocol: str('protocol'), 'api-key': str('api-key') }, env),
    json: values.json === true,
  };
  switch (command) {
    case 'create': {
      const key = oneKey(command, positionals);
      const arms = ((values.arm as string[] | undefined) ?? []).map(parseArm);
      const controls = (values.control as string[] | undefined) ?? [];
      if (controls.length !== 1) throw new UsageError(`--control: name exactly one arm as the control; got ${controls.length}`);
      if (!arms.some((a) => a.name === controls[0])) {
        throw new UsageError(`--control: "${controls[0]}" is not one of the arms (${arms.map((a) => a.name).join(', ') || 'none given'})`);
      }
      const unitName = str('unit') ?? 'session';
      const unit = UNITS[unitName.toLowerCase()];
      if (unit === undefined) throw new UsageError(`--unit: "${unitName}" is not session or send`);
      const coverage = str('coverage');
      return {
        ...common,
        command,
        experiment: {
          key,
          description: str('description') ?? '',
          arms: arms.map((a) => ({ ...a, control: a.name === controls[0] })),
          unit,
          coverage: coverage === undefined ? 1 : parseCoverage(coverage),
        },
      };
    }
    case 'list': {
      if (positionals.length > 0) throw new UsageError(`list: unexpected argument "${positionals[0]}"`);
      const stateName = str('state');
      const state = stateName === undefined ? ExperimentState.UNSPECIFIED : STATES[stateName.toLowerCase()];
      if (state === undefined) throw new UsageError(`--state: "${stateName}" is not running or stopped`);
      return { ...common, command, state };
    }
    case 'get':
      return { ...common, command, key: oneKey(command, positionals) };
    case 'update': {
      const key = oneKey(command, positionals);
      const weights = new Map(((values.weight as string[] | undefined) ?? []).map(parseWeight));
      const coverage = str('coverage');
      const description = str('description');
      if (coverage === undefined && weights.size === 0 && description === undefined) {
        throw new UsageError('update: give --coverage, --weight ARM=N or --description');
      }
      return {
        ...common,
        command,
        key,
        weights,
        ...(coverage === undefined ? {} : { coverage: parseCoverage(coverage) }),
        ...(description === undefined ? {} : { description }),
      };
    }
    case 'results': {
      const chart = str('chart');
      if (chart === '') throw new UsageError('--chart needs a file name, e.g. results.svg');
      return { ...common, command, key: oneKey(command, positionals), chart };
    }
    case 'stop':
      return { ...common, command, key: oneKey(command, positionals), winner: str('winner') ?? '' };
  }
}

/** An ExperimentService client on its own HTTP/2 session, closed when we are done instead of idling. */
function experimentClient(target: ServerTarget): { experiments: Client<typeof ExperimentService>; close(): void } {
  const { transport, close } = serverTransport(target);
  return { experiments: createClient(ExperimentService, transport), close };
}

/** The server's refusal in one line, "CODE REASON: message (field)", so a person sees what to fix. */
export function describeExperimentError(error: unknown, server: string): string[] {
  if (error instanceof ConnectError) {
    const info = errorInfo(error);
    if (info && info.reason !== '') {
      const field = info.metadata.field;
      return [`error: ${codeName(error.code)} ${info.reason}: ${error.rawMessage}${field ? ` (${field})` : ''}`, ...authHint(error)];
    }
    if (error.code === Code.Unimplemented) {
      return [
        `error: UNIMPLEMENTED: ${error.rawMessage}`,
        `hint: ${server} does not serve storycast.v1.ExperimentService; check --server and --protocol, or update the server.`,
      ];
    }
  }
  return describeError(error, server);
}

const experimentJson = (e: Experiment | undefined): string =>
  JSON.stringify(e ? toJson(ExperimentSchema, e, { alwaysEmitImplicit: true }) : null);

async function perform(options: ExperimentCommand, client: Client<typeof ExperimentService>, io: CliIO): Promise<void> {
  const show = (e: Experiment | undefined): void =>
    write(io.stdout, options.json ? [experimentJson(e)] : e ? formatExperiment(e) : ['(no experiment in the response)']);
  switch (options.command) {
    case 'create':
      return show((await client.createExperiment({ experiment: options.experiment })).experiment);
    case 'get':
      return show((await client.getExperiment({ key: options.key })).experiment);
    case 'stop':
      return show((await client.stopExperiment({ key: options.key, winner: options.winner })).experiment);
    case 'update':
      return show(await update(options, client));
    case 'list': {
      const all: Experiment[] = [];
      let pageToken = '';
      do {
        const page = await client.listExperiments({ state: options.state, pageSize: 500, pageToken });
        all.push(...page.experiments);
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return write(io.stdout, options.json ? all.map(experimentJson) : formatExperimentList(all));
    }
    case 'results': {
      const results = await client.getExperimentResults({ key: options.key });
      // The chart first: if it cannot be written, standard output holds only the error, not half an answer.
      if (options.chart !== undefined) {
        await writeFile(options.chart, distributionSvg(results)).catch((error: unknown) => {
          throw new Error(`cannot write the chart to ${options.chart}: ${(error as Error).message}`);
        });
      }
      write(
        io.stdout,
        options.json
          ? [JSON.stringify(toJson(GetExperimentResultsResponseSchema, results, { alwaysEmitImplicit: true }))]
          : formatResults(results),
      );
      if (options.chart !== undefined) {
        // On stderr with --json, so standard output stays one JSON document.
        write(options.json ? io.stderr : io.stdout, [`chart written to ${options.chart}`]);
      }
      return;
    }
  }
}

/** Weights go as the whole arm list (only weights may differ), so the current arms are read first. */
async function update(
  options: Extract<ExperimentCommand, { command: 'update' }>,
  client: Client<typeof ExperimentService>,
): Promise<Experiment | undefined> {
  const paths: string[] = [];
  let arms: Experiment['arms'] = [];
  if (options.weights.size > 0) {
    const current = (await client.getExperiment({ key: options.key })).experiment;
    const unknown = [...options.weights.keys()].filter((name) => !current?.arms.some((a) => a.name === name));
    if (unknown.length > 0)
      throw new UsageError(`--weight: experiment "${options.key}" has no arm ${unknown.map((n) => `"${n}"`).join(', ')}`);
    arms = (current?.arms ?? []).map((a) => ({ ...a, weight: options.weights.get(a.name) ?? a.weight }));
    paths.push('arms');
  }
  if (options.coverage !== undefined) paths.push('coverage');
  if (options.description !== undefined) paths.push('description');
  const response = await client.updateExperiment({
    experiment: { key: options.key, arms, coverage: options.coverage ?? 0, description: options.description ?? '' },
    updateMask: { paths },
  });
  return response.experiment;
}

export async function experiment(argv: readonly string[], io: CliIO): Promise<number> {
  let options: ExperimentCommand;
  try {
    const parsed = parseExperimentArgs(argv, io.env);
    if (parsed === 'help') {
      io.stdout.write(`${EXPERIMENT_HELP}\n`);
      return 0;
    }
    options = parsed;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    write(io.stderr, [`storycast experiment: ${error.message}`, 'Run with --help for usage.']);
    return 1;
  }
  const client = experimentClient(options);
  try {
    await perform(options, client.experiments, io);
    return 0;
  } catch (error) {
    write(io.stderr, describeExperimentError(error, options.server));
    if (options.json) io.stdout.write(`${JSON.stringify(errorJson(error))}\n`);
    return 1;
  } finally {
    client.close();
  }
}

runIfMain(import.meta.url, 'storycast experiment', (argv) =>
  experiment(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env }),
);
