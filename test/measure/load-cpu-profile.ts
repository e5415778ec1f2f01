/**
 * What a V8 CPU profile of the server (node --cpu-prof) says about the
 * measured round, as the load benchmark prints it for `--cpu-prof`: only the
 * samples taken in the round's wall-clock window (the profile starts with the
 * process; placed by the spawn time, so within a few tens of ms), then
 * - the top functions by self time (each sample to the function on top of
 *   the stack), with GC and native work as V8 names them;
 * - where the time went: each sample to the first storycast frame (src/,
 *   strategies/) from the bottom of its stack, or else to the library frames
 *   under it, so a send's parts (the journal, receipts, decoding) add up.
 * tsx compiles each module to one line: storycast's functions show line 1.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface CpuProfile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: CallFrame; readonly children?: readonly number[] }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const root = fileURLToPath(new URL('../..', import.meta.url));

function where(url: string): string {
  if (url === '') return '';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (path.startsWith(root)) return relative(root, path).replace(/^node_modules\//, '');
  return path;
}

const nameOf = ({ functionName, url, lineNumber }: CallFrame) =>
  `${functionName || '(anonymous)'} ${where(url)}${url ? `:${lineNumber + 1}` : ''}`;
const isOurs = (frame: CallFrame) => /^(src|strategies)\//.test(where(frame.url));

/** Lines of text for the samples from `fromMs` to `toMs` after the profile began; shares are of the busy (non-idle) time. */
export function profileReport(file: string, top: number, fromMs: number, toMs: number): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const spent = new Map<string, number>();
  const add = (m: Map<string, number>, key: string, us: number) => m.set(key, (m.get(key) ?? 0) + us);
  let busy = 0;
  let idle = 0;
  let at = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    at += us;
    if (at < fromMs * 1000 || at > toMs * 1000) return;
    const top = frames.get(id)!;
    if (top.functionName === '(idle)') {
      idle += us;
      return;
    }
    busy += us;
    add(self, nameOf(top), us);
    const stack: CallFrame[] = [];
    for (let node: number | undefined = id; node !== undefined; node = parent.get(node)) stack.unshift(frames.get(node)!);
    // stack[0] is V8's (root).
    const ours = stack.find(isOurs);
    add(spent, ours ? nameOf(ours) : stack.slice(1, 4).map(nameOf).join(' > '), us);
  });
  const rows = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => `  ${(us / 1000).toFixed(0).padStart(7)} ms ${((us / busy) * 100).toFixed(1).padStart(5)} %  ${name}`);
  return [
    `in the round: busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`,
    'top functions by self time:',
    ...rows(self),
    'where the time went (first storycast frame from the bottom of the stack, else the frames under it):',
    ...rows(spent),
  ];
}
