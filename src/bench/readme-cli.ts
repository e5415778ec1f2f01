/**
 * `npm run bench:report -- FILE`: rewrites the README's strategy-lab figures
 * (between `<!-- bench:start` and `<!-- bench:end -->`) from the JSON that
 * `npm run bench -- --json FILE` wrote. `--check` only says whether they are
 * up to date (exit 1 when not), for a review or CI step.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { renderLabFigures, replaceLabBlock, type BenchJson } from './readme.js';

const HELP = `Usage: npm run bench:report -- [--readme README.md] [--check] FILE

FILE is what \`npm run bench -- --json FILE\` wrote (the whole default bench: the
README quotes every built-in, fixed and the oracle). The chart beside the figures
comes from the same run: \`npm run bench -- --json FILE --chart strategies/lab.svg\`.

  --readme PATH   the file to rewrite (default README.md)
  --check         do not write; exit 1 if the figures differ from FILE's
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { readme: { type: 'string', default: 'README.md' }, check: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new Error(`expected one bench JSON file\n\n${HELP}`);
  const json = JSON.parse(await readFile(positionals[0]!, 'utf8')) as BenchJson;
  const before = await readFile(values.readme, 'utf8');
  const after = replaceLabBlock(before, renderLabFigures(json));
  if (values.check) {
    if (after === before) return 0;
    console.error(`bench:report: the figures in ${values.readme} are not those of ${positionals[0]} (run without --check to rewrite them)`);
    return 1;
  }
  if (after !== before) await writeFile(values.readme, after);
  console.log(`${values.readme}: lab figures ${after === before ? 'already up to date' : 'rewritten'} from ${positionals[0]}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench:report: ${(error as Error).message}`);
    process.exit(1);
  },
);
