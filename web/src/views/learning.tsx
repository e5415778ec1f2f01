/** What a session has proven (session memory): the size it can skip the ramp to, the limit found, how reliable it is, when it expires. */
import { useState } from 'preact/hooks';
import { stories } from '../api';
import { navigate } from '../router';
import { confirmThen, ErrorNote, ms, n, percent, useLoad, when } from '../ui';

export function LearningView(props: { sessionId: string }) {
  const [typed, setTyped] = useState(props.sessionId);
  const [note, setNote] = useState<string>();
  const learning = useLoad(
    (signal) => (props.sessionId ? stories.getSessionLearning({ sessionId: props.sessionId }, { signal }) : Promise.resolve(undefined)),
    props.sessionId,
  );
  const h = learning.value?.history;
  return (
    <section aria-labelledby="learning-title">
      <h1 id="learning-title">Session learning</h1>
      <form
        class="inline"
        onSubmit={(event) => {
          event.preventDefault();
          setNote(undefined);
          navigate(`/learning/${encodeURIComponent(typed.trim())}`);
        }}
      >
        <label for="learning-session">Session</label>
        <input id="learning-session" required value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
        <button type="submit">Show</button>
      </form>
      <ErrorNote error={learning.error} />
      {learning.value && !learning.value.found ? (
        <p data-testid="learning-empty">
          Nothing learned for {props.sessionId} yet (or it expired): its next send ramps up from the start.
        </p>
      ) : null}
      {h ? (
        <>
          <dl class="facts" data-testid="learning">
            <div>
              <dt>Proven batch size</dt>
              <dd data-testid="proven">{n(h.maxProvenBatchSize)}</dd>
            </div>
            <div>
              <dt>Limit found</dt>
              <dd>{h.minFailedBatchSize ? `fails from ${n(h.minFailedBatchSize)}` : 'none yet'}</dd>
            </div>
            <div>
              <dt>Success rate</dt>
              <dd>
                {percent(h.successRate)} of {n(h.totalAttempts)} batches
              </dd>
            </div>
            <div>
              <dt>Average batch time</dt>
              <dd>{ms(h.averageBatchTimeMs)}</dd>
            </div>
            <div>
              <dt>Calls per second learned</dt>
              <dd>{h.learnedCallsPerSecond ? h.learnedCallsPerSecond.toFixed(2) : '—'}</dd>
            </div>
            <div>
              <dt>Last successful send</dt>
              <dd>{when(h.lastSuccessfulSend)}</dd>
            </div>
            <div>
              <dt>Expires</dt>
              <dd>{when(h.expireTime)}</dd>
            </div>
          </dl>
          <button
            type="button"
            onClick={async () => {
              const asked = `Forget what ${props.sessionId} has proven? Its next send ramps up from the start.`;
              const reset = () => stories.resetSessionLearning({ sessionId: props.sessionId });
              if (await confirmThen(asked, reset, 'reset: the next send ramps up from the start', setNote)) learning.reload();
            }}
          >
            Reset learning
          </button>
        </>
      ) : null}
      <p role="status">{note}</p>
    </section>
  );
}
