/**
 * What `npm run send` shows, as pure functions of the streamed events: the
 * same lines feed a terminal (coloured, a redrawn bar below them) and a log
 * (plain), and tests read them without a server or a terminal.
 */
import {
  SendMode,
  Speed,
  type AnchorSent,
  type BatchSent,
  type SendPlanned,
  type SendStoryResponse,
  type SendSummary,
} from '../gen/storycast/v1/story_service_pb.js';
import type { Schedule } from '../gen/storycast/v1/schedule_pb.js';
import { timestampDate } from '@bufbuild/protobuf/wkt';

export interface Style {
  readonly color: boolean;
}
export const PLAIN: Style = { color: false };

/** Everything the live display needs, folded from the events so far. */
export interface ViewState {
  readonly planned?: SendPlanned;
  readonly anchor?: AnchorSent;
  readonly last?: BatchSent;
  readonly batches: number;
  readonly summary?: SendSummary;
}

export const initialState: ViewState = { batches: 0 };

export function reduce(state: ViewState, response: SendStoryResponse): ViewState {
  const event = response.event;
  switch (event.case) {
    case 'planned':
      return { ...state, planned: event.value };
    case 'anchor':
      return { ...state, anchor: event.value };
    case 'batch': {
      const b = event.value;
      // News of an earlier call is no new call: keep the last one's place, take the new counts.
      if (b.late)
        return state.last ? { ...state, last: { ...state.last, delivered: b.delivered, failed: b.failed, remaining: b.remaining } } : state;
      return { ...state, last: b, batches: state.batches + 1 };
    }
    case 'summary':
      return { ...state, summary: event.value };
    default:
      return state;
  }
}

/** 0 when everyone got the story, 2 when the send ran but someone did not. */
export function exitCodeFor(summary: SendSummary): 0 | 2 {
  return summary.failed.length === 0 && summary.delivered === summary.total ? 0 : 2;
}

const ANSI = { red: 31, green: 32, yellow: 33, cyan: 36, dim: 2, bold: 1 } as const;
function paint(style: Style, color: keyof typeof ANSI, text: string): string {
  return style.color ? `\x1b[${ANSI[color]}m${text}\x1b[0m` : text;
}

export const num = (n: number): string => n.toLocaleString('en-US');

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

/** Rounded down, so 999 of 1000 never reads as 100%. */
export function percent(part: number, whole: number): string {
  return whole === 0 ? '0%' : `${(Math.floor((part * 1000) / whole) / 10).toFixed(1)}%`;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${num(n)} ${n === 1 ? one : many}`;

function speedText(style: Style, speed: Speed): string {
  const name = Speed[speed] ?? 'UNSPECIFIED';
  if (speed === Speed.FAST) return paint(style, 'green', name);
  if (speed === Speed.SLOW) return paint(style, 'yellow', name);
  return speed === Speed.NORMAL ? name : '-';
}

/** "10, 20, 40, 500 ×6": long sends repeat their top size, and the list has to fit a screen. */
export function batchSequence(sizes: readonly number[], maxGroups = 40): string {
  const groups: Array<[size: number, count: number]> = [];
  for (const size of sizes) {
    const lastGroup = groups.at(-1);
    if (lastGroup && lastGroup[0] === size) lastGroup[1]++;
    else groups.push([size, 1]);
  }
  const shown = groups.slice(0, maxGroups).map(([size, count]) => (count > 1 ? `${num(size)} ×${count}` : num(size)));
  if (groups.length > maxGroups) shown.push(`… (${num(groups.length - maxGroups)} more sizes)`);
  return shown.join(', ');
}

export const SHOWN_LIST_ITEMS = 5;

/** "1,204 from the saved list, 2,000 from contacts, 10 from the request", when anything came from a list or the contacts. */
function sourcesNote(sources: SendPlanned['sources']): string {
  if (!sources || sources.list + sources.contacts === 0) return '';
  return [
    sources.list > 0 ? `${num(sources.list)} from the saved list` : '',
    sources.contacts > 0 ? `${num(sources.contacts)} from contacts` : '',
    `${num(sources.request)} from the request`,
  ]
    .filter(Boolean)
    .join(', ');
}

export function formatPlanned(p: SendPlanned, style: Style = PLAIN): string[] {
  const notes = [
    p.invalidRecipients.length > 0 ? plural(p.invalidRecipients.length, 'invalid input') : '',
    p.duplicateRecipients > 0 ? `${plural(p.duplicateRecipients, 'duplicate')} dropped` : '',
    sourcesNote(p.sources),
  ]
    .filter(Boolean)
    .join(', ');
  const mode = p.mode === SendMode.SINGLE ? 'single call' : 'smart send';
  const history = p.usedHistory ? `history: proven size ${num(p.provenBatchSize)}` : 'no history';
  const first = p.mode === SendMode.SINGLE ? `one call to all ${num(p.totalRecipients)}` : `first batch ${num(p.firstBatchSize)}`;
  const lines = [
    `${paint(style, 'bold', 'planned')}  ${plural(p.totalRecipients, 'recipient')}${notes ? ` (${notes})` : ''}, ${mode}, strategy ${p.strategy}${p.experiment ? ` (experiment ${p.experiment}, arm ${p.arm})` : ''}, ${history}; ${first}${p.reason ? `: ${paint(style, 'dim', p.reason)}` : ''}`,
  ];
  for (const invalid of p.invalidRecipients.slice(0, SHOWN_LIST_ITEMS)) {
    lines.push(`  ${paint(style, 'yellow', 'invalid')} ${JSON.stringify(invalid.input)}: ${invalid.reason}`);
  }
  if (p.invalidRecipients.length > SHOWN_LIST_ITEMS)
    lines.push(`  … and ${num(p.invalidRecipients.length - SHOWN_LIST_ITEMS)} more invalid`);
  return lines;
}

export function formatAnchor(a: AnchorSent, style: Style = PLAIN): string {
  const attempts = a.attempts > 1 ? ` after ${a.attempts} attempts` : '';
  return `${paint(style, 'bold', 'anchor')}   message ${a.messageId} to ${plural(a.recipients, 'recipient')} in ${duration(a.durationMs)}${attempts}`;
}

export function formatBatch(b: BatchSent, total: number, style: Style = PLAIN): string {
  if (b.late) {
    return `${paint(style, 'bold', `batch ${b.index + 1}`)}  ${paint(style, 'green', `acknowledged late: ${num(b.size)} delivered after all`)} (${duration(b.durationMs)} after it started)  delivered ${num(b.delivered)}/${num(total)} (${percent(b.delivered, total)}), remaining ${num(b.remaining)}`;
  }
  const code = b.error ? `${b.error.code}${b.error.whatsappCode ? ` ${b.error.whatsappCode}` : ''}` : '';
  const refused = b.refused > 0 ? paint(style, 'red', ` (${num(b.refused)} refused, will retry)`) : '';
  const outcome = b.ok
    ? paint(style, 'green', 'ok') + refused
    : paint(style, 'red', `FAILED ${code || 'UNKNOWN'}${b.error?.retryable ? ' (will retry)' : ''}`) +
      (b.error?.message ? `: ${b.error.message}` : '');
  const next = b.nextBatchSize > 0 ? `next ${num(b.nextBatchSize)}` : 'done';
  const failed = b.failed > 0 ? paint(style, 'red', `failed ${num(b.failed)}`) : 'failed 0';
  return `${paint(style, 'bold', `batch ${b.index + 1}`)}  size ${num(b.size)}  ${outcome}  ${duration(b.durationMs)} ${speedText(style, b.speed)}  delivered ${num(b.delivered)}/${num(total)} (${percent(b.delivered, total)}), ${failed}, remaining ${num(b.remaining)}; ${next}${b.reason ? `: ${paint(style, 'dim', b.reason)}` : ''}`;
}

export function formatSummary(s: SendSummary, style: Style = PLAIN): string[] {
  const everyone = exitCodeFor(s) === 0;
  const head = `delivered ${num(s.delivered)}/${num(s.total)} (${percent(s.delivered, s.total)}), failed ${num(s.failed.length)}`;
  const lines = [
    `${paint(style, 'bold', 'summary')}  ${paint(style, everyone ? 'green' : 'red', head)}${s.invalid > 0 ? `; ${plural(s.invalid, 'invalid input')} not sent` : ''}`,
  ];
  if (s.stoppedBy) lines.push(`  ${paint(style, 'red', `stopped early: ${s.stoppedBy}`)}`);
  if (s.failed.length > 0) {
    const byCode = new Map<string, number>();
    for (const f of s.failed) byCode.set(f.code, (byCode.get(f.code) ?? 0) + 1);
    lines.push(
      `  failed by code: ${[...byCode]
        .sort((a, b) => b[1] - a[1])
        .map(([code, n]) => `${code} ${num(n)}`)
        .join(', ')}`,
    );
    for (const f of s.failed.slice(0, SHOWN_LIST_ITEMS))
      lines.push(`  ${paint(style, 'red', 'failed')} ${f.recipient} ${f.code}: ${f.reason}`);
    if (s.failed.length > SHOWN_LIST_ITEMS) lines.push(`  … and ${num(s.failed.length - SHOWN_LIST_ITEMS)} more failed`);
  }
  lines.push(
    `  ${plural(s.batches, 'batch', 'batches')} after the anchor${s.batchSequence.length > 0 ? `: ${batchSequence(s.batchSequence)}` : ''}`,
  );
  lines.push(`  took ${duration(Number(s.totalDurationMs))}; message ${s.messageId || '(none)'}, send ${s.sendId}`);
  const l = s.sessionLearning;
  if (l) {
    const proven = l.maxProvenBatchSize > 0 ? `proven batch size ${num(l.maxProvenBatchSize)}` : 'no proven batch size';
    lines.push(
      `  session learning: ${proven}; started from history: ${l.usedHistoricalData ? 'yes' : 'no'}; next send skips the ramp: ${l.willSkipRampingNextTime ? 'yes' : 'no'}`,
    );
  }
  return lines;
}

/** The lines a log gets for one event; a terminal scrolls the same lines above its bar. */
export function formatEvent(state: ViewState, response: SendStoryResponse, style: Style = PLAIN): string[] {
  const event = response.event;
  switch (event.case) {
    case 'planned':
      return formatPlanned(event.value, style);
    case 'anchor':
      return [formatAnchor(event.value, style)];
    case 'batch':
      return [formatBatch(event.value, state.planned?.totalRecipients ?? 0, style)];
    case 'summary':
      return formatSummary(event.value, style);
    case 'scheduled':
      return event.value.schedule ? [formatScheduled(event.value.schedule, style)] : [];
    default:
      return [];
  }
}

/** "scheduled  send 3f2a… starts 2026-12-24T08:00:00.000Z (schedule sch-…)", or a repeating schedule's next run. */
export function formatScheduled(s: Schedule, style: Style = PLAIN): string {
  const at = (t: Schedule['nextRunTime']) => (t ? timestampDate(t).toISOString() : '-');
  const what =
    s.repeat === ''
      ? `send ${s.sendId} starts ${at(s.nextRunTime)}`
      : `repeats "${s.repeat}" (${s.timeZone || 'UTC'}), next ${at(s.nextRunTime)}, ${plural(s.runs, 'send')} so far`;
  const failed = s.lastErrorReason ? `; last occurrence failed: ${s.lastErrorReason}` : '';
  return `${paint(style, 'bold', 'scheduled')}  ${what} (schedule ${s.scheduleId})${failed ? paint(style, 'red', failed) : ''}`;
}

export function delivered(state: ViewState): number {
  return state.summary?.delivered ?? state.last?.delivered ?? (state.anchor ? state.anchor.recipients : 0);
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * The redrawn block under the scrolled lines. Built plain, cut to the width and
 * only then coloured: a line that wraps would break the cursor arithmetic.
 */
export function formatStatus(state: ViewState, options: { width: number; elapsedMs?: number }, style: Style = PLAIN): string[] {
  const total = state.planned?.totalRecipients ?? 0;
  const done = delivered(state);
  const barWidth = Math.max(10, Math.min(30, options.width - 50));
  const filled = total === 0 ? 0 : Math.min(barWidth, Math.floor((done / total) * barWidth));
  const bar = `[${filled > 0 ? paint(style, 'green', '█'.repeat(filled)) : ''}${'░'.repeat(barWidth - filled)}]`;
  const elapsed = options.elapsedMs === undefined ? '' : `  ${duration(options.elapsedMs)}`;
  const failed = state.last?.failed ?? 0;
  const counts = !state.planned
    ? ''
    : truncate(
        ` ${percent(done, total).padStart(6)}  ${num(done)}/${num(total)} delivered  failed ${num(failed)}${elapsed}`,
        options.width - barWidth - 3,
      );
  let detail: string;
  if (!state.planned) detail = 'connecting…';
  else if (!state.anchor)
    detail = state.planned.mode === SendMode.SINGLE ? `sending one call to all ${num(total)}…` : 'sending the anchor…';
  else if (!state.last) detail = `batch 1 of ${num(state.planned.firstBatchSize)} in flight; ${state.planned.reason}`;
  else {
    const b = state.last;
    const speed = Speed[b.speed] ?? '-';
    const next = b.nextBatchSize > 0 ? `batch ${b.index + 2} of ${num(b.nextBatchSize)} in flight: ${b.reason}` : 'finishing';
    detail = `last: ${num(b.size)} in ${duration(b.durationMs)} ${b.ok ? speed : `FAILED ${b.error?.code ?? ''}`}; ${next}`;
  }
  return [`${bar}${counts}`, paint(style, 'dim', truncate(detail, options.width - 1))];
}

export function formatCancelled(state: ViewState): string[] {
  const total = state.planned?.totalRecipients;
  const done = delivered(state);
  return [
    `cancelled: delivered ${num(done)}${total === undefined ? '' : `/${num(total)}`} so far after ${plural(state.batches, 'batch', 'batches')}.`,
    'The server lets the batch in flight finish and starts nothing after it.',
  ];
}
