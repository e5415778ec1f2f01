/**
 * A send as it happens, by its id (WatchSend replays every event, then follows
 * live): so a reload, a second browser or a link shared later shows the same
 * send. A dropped stream picks up after the last event it had.
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { useEffect, useReducer, useState } from 'preact/hooks';
import {
  type AnchorSent,
  type BatchSent,
  type SendPlanned,
  type SendStoryResponse,
  SendState,
  type SendSummary,
} from '../../../clients/typescript/src/gen/storycast/v1/story_service_pb';
import { describeError, stories } from '../api';
import { BatchChart } from '../chart';
import { Link } from '../router';
import { ErrorNote, ms, n, useLoad, when } from '../ui';

interface Progress {
  readonly events: number;
  readonly planned?: SendPlanned;
  readonly anchor?: AnchorSent;
  readonly batches: readonly BatchSent[];
  readonly summary?: SendSummary;
}

function reduce(state: Progress, event: SendStoryResponse): Progress {
  const next = { ...state, events: state.events + 1 };
  switch (event.event.case) {
    case 'planned':
      return { ...next, planned: event.event.value };
    case 'anchor':
      return { ...next, anchor: event.event.value };
    case 'batch':
      return { ...next, batches: [...state.batches, event.event.value] };
    case 'summary':
      return { ...next, summary: event.event.value };
    default:
      return next;
  }
}

const RETRY_MS = 1000;

/** Follows the send until its summary, reconnecting after the events already seen. */
function useWatch(sendId: string): { progress: Progress; error: string | undefined; connected: boolean; over: boolean } {
  const [progress, dispatch] = useReducer(reduce, { events: 0, batches: [] });
  const [error, setError] = useState<string>();
  const [connected, setConnected] = useState(false);
  const [over, setOver] = useState(false);
  useEffect(() => {
    const abort = new AbortController();
    let seen = 0;
    let done = false;
    (async () => {
      while (!abort.signal.aborted && !done) {
        try {
          setConnected(true);
          for await (const event of stories.watchSend({ sendId, afterEvent: seen }, { signal: abort.signal })) {
            seen += 1;
            if (event.event.case === 'summary') done = true;
            dispatch(event);
          }
          // The stream ends with the summary, or with nothing more for a send that failed before one.
          done = true;
          setOver(true);
          setError(undefined);
        } catch (e) {
          if (abort.signal.aborted) return;
          const code = ConnectError.from(e).code;
          setError(describeError(e));
          if (code === Code.NotFound || code === Code.InvalidArgument || code === Code.Unauthenticated) return;
          await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        } finally {
          setConnected(false);
        }
      }
    })();
    return () => abort.abort();
  }, [sendId]);
  return { progress, error, connected, over };
}

const STATE_NAMES: Record<number, string> = {
  [SendState.RUNNING]: 'running',
  [SendState.SUCCEEDED]: 'finished',
  [SendState.CANCELLED]: 'cancelled',
  [SendState.FAILED]: 'failed',
};

export function LiveView(props: { sendId: string }) {
  const { progress, error, connected, over } = useWatch(props.sendId);
  const { planned, anchor, batches, summary } = progress;
  // The record says what the stream cannot: a send that failed before its summary, and why.
  const record = useLoad((signal) => stories.getSend({ sendId: props.sendId }, { signal }), `${props.sendId}:${over}`);
  const [cancel, setCancel] = useState<string>();
  const last = batches.at(-1);
  const total = summary?.total ?? planned?.totalRecipients ?? 0;
  const delivered = summary?.delivered ?? last?.delivered ?? (anchor ? anchor.recipients : 0);
  const failed = summary ? summary.failed.length : (last?.failed ?? 0);
  const remaining = summary ? 0 : (last?.remaining ?? Math.max(0, total - delivered));
  const ended = summary !== undefined || (record.value?.send && record.value.send.state !== SendState.RUNNING);
  const state = summary
    ? summary.stoppedBy
      ? `stopped: ${summary.stoppedBy}`
      : 'finished'
    : (STATE_NAMES[record.value?.send?.state ?? SendState.RUNNING] ?? 'running');
  return (
    <section aria-labelledby="live-title">
      <h1 id="live-title">Send {props.sendId}</h1>
      <p class="meta">
        {planned ? (
          <>
            Session <Link href={`/learning/${encodeURIComponent(planned.sessionId)}`}>{planned.sessionId}</Link>, strategy{' '}
            <strong>{planned.strategy}</strong>
            {planned.experiment ? ` (experiment ${planned.experiment}, arm ${planned.arm})` : ''}.{' '}
            {planned.reason || planned.strategyReason}
          </>
        ) : (
          'Waiting for the send…'
        )}
      </p>
      <dl class="counts" aria-live="polite" data-testid="counts">
        <div>
          <dt>State</dt>
          <dd data-testid="send-state">{state}</dd>
        </div>
        <div>
          <dt>Delivered</dt>
          <dd data-testid="delivered">{n(delivered)}</dd>
        </div>
        <div>
          <dt>Failed</dt>
          <dd data-testid="failed">{n(failed)}</dd>
        </div>
        <div>
          <dt>Remaining</dt>
          <dd data-testid="remaining">{n(remaining)}</dd>
        </div>
        <div>
          <dt>Total</dt>
          <dd>{n(total)}</dd>
        </div>
      </dl>
      <p class="actions">
        <button
          type="button"
          disabled={Boolean(ended)}
          onClick={() => {
            setCancel('cancelling…');
            stories.cancelSend({ sendId: props.sendId }).then(
              () => setCancel('cancelled: the batch in flight finishes, nothing after it starts'),
              (e: unknown) => setCancel(describeError(e)),
            );
          }}
        >
          Cancel send
        </button>
        <span role="status">{cancel}</span>
        {!ended ? <span class="muted">{connected ? ' live' : ' reconnecting…'}</span> : null}
      </p>
      <ErrorNote error={error} />
      {record.value?.send?.failureMessage ? (
        <ErrorNote error={`${record.value.send.failureReason}: ${record.value.send.failureMessage}`} />
      ) : null}
      {anchor ? (
        <p>
          Anchor sent in {ms(anchor.durationMs)} (message id <code>{anchor.messageId}</code>); every batch reuses it.
        </p>
      ) : null}
      <div class="live">
        <BatchChart batches={batches} />
        <BatchTable batches={batches} />
      </div>
      {summary ? <Summary summary={summary} /> : null}
    </section>
  );
}

/** One body per batch: its numbers, then the strategy's reason on a line of its own (readable on a phone too). */
function BatchTable(props: { batches: readonly BatchSent[] }) {
  return (
    <div class="scroll">
      <table data-testid="batches" class="batches">
        <caption>Each batch, and under it the strategy's reason for the next size</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Size</th>
            <th scope="col">Time</th>
            <th scope="col">Outcome</th>
            <th scope="col">Next</th>
          </tr>
        </thead>
        {props.batches.map((b) => (
          <tbody key={b.index} class={b.ok ? 'batch' : 'batch bad'}>
            <tr>
              <th scope="row" class="num">
                {b.index + 1}
              </th>
              <td class="num">{n(b.size)}</td>
              <td class="num">{ms(b.durationMs)}</td>
              <td>{b.ok ? 'ok' : (b.error?.code ?? 'failed')}</td>
              <td class="num">{b.nextBatchSize ? n(b.nextBatchSize) : '—'}</td>
            </tr>
            <tr class="reason">
              <td />
              <td colSpan={4}>{b.reason}</td>
            </tr>
          </tbody>
        ))}
      </table>
    </div>
  );
}

function Summary(props: { summary: SendSummary }) {
  const s = props.summary;
  const byCode = new Map<string, number>();
  for (const f of s.failed) byCode.set(f.code, (byCode.get(f.code) ?? 0) + 1);
  return (
    <section class="card" aria-labelledby="summary-title" data-testid="summary">
      <h2 id="summary-title">Summary</h2>
      <p>
        {n(s.delivered)} of {n(s.total)} delivered in {n(s.batches)} batches over {ms(s.totalDurationMs)}
        {s.stoppedBy ? `, stopped by ${s.stoppedBy}` : ''}.
      </p>
      {byCode.size > 0 ? (
        <ul>
          {[...byCode].map(([code, count]) => (
            <li key={code}>
              {n(count)} failed with {code}
            </li>
          ))}
        </ul>
      ) : null}
      {s.sessionLearning ? (
        <p>
          Proven batch size now {n(s.sessionLearning.maxProvenBatchSize)}
          {s.sessionLearning.willSkipRampingNextTime ? '; the next send skips the ramp.' : '.'}
        </p>
      ) : null}
    </section>
  );
}

/** The sends this server knows, newest first: the way back to one after closing its tab. */
export function SendsView() {
  const sends = useLoad((signal) => stories.listSends({ pageSize: 50 }, { signal }), '');
  return (
    <section aria-labelledby="sends-title">
      <h1 id="sends-title">Sends</h1>
      <ErrorNote error={sends.error} />
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Send</th>
              <th scope="col">Session</th>
              <th scope="col">State</th>
              <th scope="col">Delivered</th>
              <th scope="col">Started</th>
            </tr>
          </thead>
          <tbody>
            {(sends.value?.sends ?? []).map((s) => (
              <tr key={s.sendId}>
                <td>
                  <Link href={`/sends/${encodeURIComponent(s.sendId)}`}>{s.sendId}</Link>
                </td>
                <td>{s.sessionId}</td>
                <td>{STATE_NAMES[s.state] ?? 'scheduled'}</td>
                <td>
                  {n(s.delivered)} / {n(s.total)}
                </td>
                <td>{when(s.createTime)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {sends.value && sends.value.sends.length === 0 ? <p>No sends yet.</p> : null}
    </section>
  );
}
