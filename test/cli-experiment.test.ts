/**
 * `storycast experiment` against a real storycast on port 0 (the simulated
 * network): create with arms, list, get, results after sends that name the
 * experiment (made through the StoryService client), --json, --chart (each
 * arm's distribution), the server's refusals as "CODE REASON: message
 * (field)", and stop.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { experiment } from '../src/cli/experiment.js';
import { storyClient } from '../src/cli/follow.js';
import { io } from './support/cli-io.js';
import { numbers } from './support/scripted-transport.js';
import { startTestServer, type TestServer } from './support/storycast-server.js';
import { collectStream } from './support/streams.js';

/** Every tag closed in order, one root <svg>: what a standalone SVG viewer needs before it draws anything. */
function wellFormed(svg: string): boolean {
  const stack: string[] = [];
  for (const [, closing, name, selfClosing] of svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)[^>]*?(\/?)>/g)) {
    if (selfClosing) continue;
    if (closing) {
      if (stack.pop() !== name) return false;
    } else {
      stack.push(name!);
    }
  }
  return (
    stack.length === 0 && svg.trimStart().startsWith('<svg xmlns="http://www.w3.org/2000/svg"') && !/&(?!(amp|lt|gt|quot|apos);)/.test(svg)
  );
}

/** Each arm's row in the chart, by arm name: from its <g class="arm"> to the next one or the end. */
function armGroups(svg: string): Map<string, string> {
  const starts = [...svg.matchAll(/<g class="arm" data-arm="([^"]*)">/g)];
  return new Map(starts.map((m, i) => [m[1]!, svg.slice(m.index, starts[i + 1]?.index ?? svg.lastIndexOf('</svg>'))]));
}

/** The p-quantile, interpolating between neighbours (R's type 7), as a box plot's quartiles are. */
function quantile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const h = (sorted.length - 1) * p;
  const i = Math.floor(h);
  return sorted[i]! + (h - i) * ((sorted[i + 1] ?? sorted[i]!) - sorted[i]!);
}

describe('storycast experiment', () => {
  let t: TestServer;
  let dir: string;
  const cli = async (...argv: string[]) => {
    const out = io();
    const code = await experiment([...argv, '--server', t.url], out);
    return { code, out: out.out(), err: out.err() };
  };

  beforeAll(async () => {
    t = await startTestServer();
    dir = await mkdtemp(join(tmpdir(), 'storycast-experiment-'));
  });
  afterAll(async () => {
    await t.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates an experiment, lists and gets it, and refuses what the server refuses with its reason and field', async () => {
    const created = await cli(
      'create',
      'cli-ab',
      '--arm',
      'control=adaptive',
      '--arm',
      'fast=bracket:2',
      '--control',
      'control',
      '--unit',
      'send',
      '--coverage',
      '0.5',
      '--description',
      'bracket against adaptive',
    );
    expect(created.code, created.err).toBe(0);
    expect(created.out).toContain('experiment  cli-ab');
    expect(created.out).toContain('arms        control=adaptive:1* fast=bracket:2');
    expect(created.out).toMatch(/unit {8}send/);
    expect(created.out).toMatch(/coverage {4}50%/);
    expect(created.out).toContain('description bracket against adaptive');

    const unknownStrategy = await cli('create', 'cli-bad', '--arm', 'a=adaptive', '--arm', 'b=nope', '--control', 'a');
    expect(unknownStrategy.code).toBe(1);
    expect(unknownStrategy.err).toMatch(
      /^error: INVALID_ARGUMENT UNKNOWN_STRATEGY: strategy "nope" is not offered here .*\(experiment\.arms\[1\]\.strategy\)$/m,
    );
    const taken = await cli('create', 'cli-ab', '--arm', 'a=adaptive', '--arm', 'b=bracket', '--control', 'a');
    expect(taken.code).toBe(1);
    expect(taken.err).toContain('error: ALREADY_EXISTS EXPERIMENT_EXISTS:');
    expect(taken.err).toContain('(experiment.key)');
    const oneArm = await cli('create', 'cli-one', '--arm', 'a=adaptive', '--control', 'a');
    expect(oneArm.err).toContain('INVALID_ARGUMENT TOO_FEW_ARMS');

    const listed = await cli('list');
    expect(listed.code).toBe(0);
    const [header, row] = listed.out.trim().split('\n');
    expect(header).toMatch(/^KEY\s+STATE\s+UNIT\s+COVERAGE\s+ARMS \(\* control\)\s+CREATED$/);
    expect(row).toMatch(/^cli-ab\s+running\s+send\s+50%\s+control=adaptive:1\* fast=bracket:2\s+\d{4}-\d\d-\d\dT[\d:]+Z$/);

    const got = await cli('get', 'cli-ab', '--json');
    expect(JSON.parse(got.out)).toMatchObject({
      key: 'cli-ab',
      state: 'EXPERIMENT_STATE_RUNNING',
      unit: 'EXPERIMENT_UNIT_SEND',
      coverage: 0.5,
      arms: [
        { name: 'control', strategy: 'adaptive', weight: 1, control: true },
        { name: 'fast', strategy: 'bracket', weight: 2, control: false },
      ],
    });
    const missing = await cli('get', 'no-such');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('error: NOT_FOUND EXPERIMENT_NOT_FOUND: no experiment "no-such" on this server (key)');
  });

  it('update changes weights, coverage and description, and refuses an arm the experiment does not have', async () => {
    expect((await cli('create', 'cli-upd', '--arm', 'a=adaptive', '--arm', 'b=bracket', '--control', 'a', '--coverage', '0.3')).code).toBe(
      0,
    );
    const updated = await cli('update', 'cli-upd', '--weight', 'b=3', '--coverage', '0.8', '--description', 'more bracket', '--json');
    expect(updated.code).toBe(0);
    expect(JSON.parse(updated.out)).toMatchObject({
      coverage: 0.8,
      description: 'more bracket',
      arms: [
        { name: 'a', weight: 1, control: true },
        { name: 'b', weight: 3, control: false },
      ],
    });
    const text = await cli('update', 'cli-upd', '--coverage', '1');
    expect(text.out).toContain('a=adaptive:1* b=bracket:3');
    const unknown = await cli('update', 'cli-upd', '--weight', 'c=2');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('has no arm "c"');
    const nothing = await cli('update', 'cli-upd');
    expect(nothing.code).toBe(1);
    expect(nothing.err).toContain('give --coverage, --weight ARM=N or --description');
  });

  it('refuses a mistyped command before calling the server, naming the option', async () => {
    const cases: Array<[string[], string]> = [
      [['create', 'k', '--arm', 'adaptive', '--arm', 'b=bracket', '--control', 'b'], '--arm: "adaptive" is not NAME=STRATEGY'],
      [['create', 'k', '--arm', 'a=adaptive:0', '--arm', 'b=bracket', '--control', 'a'], 'the weight must be a whole number'],
      [['create', 'k', '--arm', 'a=adaptive', '--arm', 'b=bracket'], '--control: name exactly one arm as the control; got 0'],
      [['create', 'k', '--arm', 'a=adaptive', '--arm', 'b=bracket', '--control', 'a', '--control', 'b'], 'exactly one arm'],
      [['create', 'k', '--arm', 'a=adaptive', '--arm', 'b=bracket', '--control', 'c'], '--control: "c" is not one of the arms (a, b)'],
      [['create', 'k', '--arm', 'a=adaptive', '--arm', 'b=bracket', '--control', 'a', '--coverage', '0'], '--coverage: "0"'],
      [['create', 'k', '--arm', 'a=adaptive', '--arm', 'b=bracket', '--control', 'a', '--coverage', '1.5'], '--coverage: "1.5"'],
      [['create', 'k', '--arm', 'a=adaptive', '--arm', 'b=bracket', '--control', 'a', '--unit', 'user'], '--unit: "user"'],
      [['create', '--arm', 'a=adaptive', '--arm', 'b=bracket', '--control', 'a'], 'create: give exactly one experiment KEY'],
      [['list', '--state', 'paused'], '--state: "paused" is not running or stopped'],
      [['stop', 'k', '--chart', 'x.svg'], "Unknown option '--chart'"],
      [['results'], 'results: give exactly one experiment KEY'],
      [['launch', 'k'], 'unknown command "launch"'],
    ];
    for (const [argv, message] of cases) {
      const result = await cli(...argv);
      expect(result.code, argv.join(' ')).toBe(1);
      expect(result.err, argv.join(' ')).toContain(message);
    }
    // Nothing reached the server: the mistyped "k" was never created.
    expect((await cli('get', 'k')).err).toContain('EXPERIMENT_NOT_FOUND');
    const help = await cli('results', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('Usage: npm run storycast -- experiment');
  });

  it('shows results after sends that name the experiment: table, --json and a --chart SVG', async () => {
    expect(
      (await cli('create', 'cli-results', '--arm', 'base=adaptive', '--arm', 'try=bracket', '--control', 'base', '--unit', 'send')).code,
    ).toBe(0);
    const client = storyClient(t.url, 'grpc');
    const planned: string[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        const { events, error } = await collectStream(
          client.stories.sendStory({
            sessionId: 'cli-exp',
            requestId: `cli-results-${i}`,
            experiment: 'cli-results',
            story: { content: { case: 'text', value: { text: 'hi' } } },
            // The simulated network is deterministic: different sizes give each arm some variance to test.
            recipients: numbers(150 + 47 * i),
          }),
        );
        expect(error).toBeUndefined();
        const first = events[0]?.event;
        if (first?.case === 'planned') planned.push(first.value.arm);
      }
    } finally {
      client.close();
    }
    // Sends are the unit and request ids hash into both arms.
    expect(new Set(planned)).toEqual(new Set(['base', 'try']));
    await vi.waitFor(async () => {
      const json = await cli('results', 'cli-results', '--json');
      const results = JSON.parse(json.out) as { arms: Array<{ sends: number }> };
      expect(results.arms.reduce((n, a) => n + a.sends, 0)).toBe(10);
    });

    const shown = await cli('results', 'cli-results');
    expect(shown.code, shown.err).toBe(0);
    const lines = shown.out.split('\n');
    expect(lines.find((l) => l.startsWith('ARM'))).toMatch(
      /^ARM\s+STRATEGY\s+CONTROL\s+UNITS\s+SENDS\s+MS PER 1,000 RECIPIENTS \[95% CI\]\s+FAILED CALLS\/SEND \[95% CI\]\s+GAVE UP\s+FINISHED$/,
    );
    const base = planned.filter((a) => a === 'base').length;
    // The control first, marked, with a mean and a CI in ms per 1,000 recipients, and every send finished.
    expect(lines.find((l) => l.startsWith('base '))).toMatch(
      new RegExp(`^base\\s+adaptive\\s+\\*\\s+${base}\\s+${base}\\s+[\\d,]+ \\[[\\d,–-]+, [\\d,–-]+\\]\\s+\\d+\\.\\d\\d .*\\s+100%$`),
    );
    expect(lines.find((l) => l.startsWith('try '))).toMatch(new RegExp(`^try\\s+bracket\\s+${10 - base}\\s+${10 - base}\\s`));
    expect(lines.find((l) => l.startsWith('try ') && l.includes('base'))).toMatch(
      /^try\s+base\s+[+-][\d.]+%\s+\[[+-][\d.]+%, [+-][\d.]+%\]\s+(<0\.001|[01]\.\d{3})\s+(yes|no)$/,
    );
    expect(shown.out).toMatch(/^sample-ratio mismatch: p = [01]\.\d{3} \(the split matches the weights\)$/m);
    expect(shown.out).toMatch(/^verdict: not enough data yet: \d+ of the 20 units per arm needed$/m);

    const json = await cli('results', 'cli-results', '--json');
    const parsed = JSON.parse(json.out) as {
      experiment: { key: string };
      arms: Array<{ arm: string; control: boolean; sends: number; unitMsPerThousand: number[] }>;
      verdict: string;
    };
    expect(parsed.experiment.key).toBe('cli-results');
    expect(parsed.arms.map((a) => [a.arm, a.control])).toEqual([
      ['base', true],
      ['try', false],
    ]);
    expect(parsed.verdict).toMatch(/not enough data/);
    // Sends are the unit and every send finished: one value per send, each a time per 1,000 recipients.
    for (const arm of parsed.arms) {
      expect(arm.unitMsPerThousand, arm.arm).toHaveLength(planned.filter((a) => a === arm.arm).length);
      for (const v of arm.unitMsPerThousand) expect(v).toBeGreaterThan(0);
    }

    const file = join(dir, 'results.svg');
    const charted = await cli('results', 'cli-results', '--chart', file);
    expect(charted.code, charted.err).toBe(0);
    expect(charted.out).toContain(`chart written to ${file}`);
    const svg = await readFile(file, 'utf8');
    expect(wellFormed(svg)).toBe(true);
    expect(svg).toContain('Experiment &quot;cli-results&quot;: time per 1,000 recipients by arm');
    expect(svg).toContain('Verdict: not enough data yet');
    expect(svg).toContain('ms per 1,000 recipients (lower is faster)');
    expect(svg).toContain('Each dot: one finished send');
    expect(svg).not.toContain('aggregates');
    // Each arm's distribution: one dot per value the server returned, its quartile box and median, and its mean and CI.
    const rows = armGroups(svg);
    expect([...rows.keys()]).toEqual(['base', 'try']);
    for (const arm of parsed.arms) {
      const row = rows.get(arm.arm)!;
      expect(row.match(/<circle class="unit"/g), arm.arm).toHaveLength(arm.unitMsPerThousand.length);
      const box = /<rect class="box" x="([\d.]+)"[^>]* width="([\d.]+)"/.exec(row);
      const median = /<line class="median" x1="([\d.]+)"/.exec(row);
      expect(box, arm.arm).not.toBeNull();
      expect(median, arm.arm).not.toBeNull();
      // The median inside the box, and the dots spread over the x scale as far as the values are (not all in one place).
      const [x, width, xm] = [Number(box![1]), Number(box![2]), Number(median![1])];
      expect(xm).toBeGreaterThanOrEqual(x);
      expect(xm).toBeLessThanOrEqual(x + width);
      const cxs = [...row.matchAll(/<circle class="unit" cx="([\d.]+)"/g)].map((m) => Number(m[1]));
      expect(Math.min(...cxs)).toBeLessThanOrEqual(x);
      expect(Math.max(...cxs)).toBeGreaterThanOrEqual(x + width);
      // Its tooltip states the quartiles of exactly these values.
      const [q1, q2, q3] = [0.25, 0.5, 0.75].map((p) => Math.round(quantile(arm.unitMsPerThousand, p)).toLocaleString('en-US'));
      expect(row).toContain(`${arm.unitMsPerThousand.length} values; median ${q2}, quartiles ${q1} to ${q3}`);
      expect(row).toMatch(/<line class="ci"[^>]*\/>[\s\S]*<rect class="mean"/);
    }
    // The control highlighted, and its mean as the reference line.
    expect(svg).toContain('class="control-band"');
    expect(svg).toContain('class="control-mean"');

    const unwritable = await cli('results', 'cli-results', '--chart', join(dir, 'no-such-dir', 'x.svg'));
    expect(unwritable.code).toBe(1);
    expect(unwritable.err).toContain('cannot write the chart to');
    expect(unwritable.out).toBe('');
  });

  it('prints "–" for what cannot be computed yet, and draws an empty experiment without failing', async () => {
    expect((await cli('create', 'cli-idle', '--arm', 'a=adaptive', '--arm', 'b=conservative', '--control', 'a')).code).toBe(0);
    const shown = await cli('results', 'cli-idle');
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/^a\s+adaptive\s+\*\s+0\s+0\s+–\s+–\s+–\s+–$/m);
    expect(shown.out).toMatch(/^b\s+conservative\s+0\s+0\s+–\s+–\s+–\s+–$/m);
    expect(shown.out).toMatch(/^b\s+a\s+–\s+–\s+–\s+no$/m);
    expect(shown.out).toContain('sample-ratio mismatch: p = – (not computable yet)');
    const file = join(dir, 'idle.svg');
    expect((await cli('results', 'cli-idle', '--chart', file, '--json')).code).toBe(0);
    const svg = await readFile(file, 'utf8');
    expect(wellFormed(svg)).toBe(true);
    expect(svg).toContain('no finished sends yet: nothing to draw');
    const rows = armGroups(svg);
    expect([...rows.keys()]).toEqual(['a', 'b']);
    for (const row of rows.values()) expect(row).toContain('>no finished sends yet</text>');
    for (const drawn of ['class="unit"', 'class="box"', 'class="median"', 'class="mean"']) expect(svg).not.toContain(drawn);
  });

  it('stops with a winner, refuses an unknown one, and lists by state', async () => {
    const bad = await cli('stop', 'cli-ab', '--winner', 'nope');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('error: INVALID_ARGUMENT UNKNOWN_ARM: experiment "cli-ab" has no arm "nope" (winner)');
    const stopped = await cli('stop', 'cli-ab', '--winner', 'fast');
    expect(stopped.code, stopped.err).toBe(0);
    expect(stopped.out).toMatch(/^state {7}stopped \(winner: fast, stopped \d{4}-[\d-]+T[\d:]+Z\)$/m);

    const stoppedOnes = await cli('list', '--state', 'stopped', '--json');
    expect(
      stoppedOnes.out
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { key: string; winner: string }).key),
    ).toEqual(['cli-ab']);
    const running = await cli('list', '--state', 'running');
    expect(running.out).not.toContain('cli-ab');
    expect(running.out).toContain('cli-results');
    const missing = await cli('stop', 'no-such');
    expect(missing.err).toContain('EXPERIMENT_NOT_FOUND');
  });
});
