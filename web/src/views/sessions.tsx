/**
 * Sessions: each with its state and the reason for it; linking a new one (the
 * QR code drawn as WhatsApp rotates it, or a pairing code for a phone number)
 * and logging one out. On the simulated network every session is connected at
 * once, so linking ends as soon as it starts.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { type Session, SessionState } from '../../../clients/typescript/src/gen/storycast/v1/session_service_pb';
import { describeError, sessions } from '../api';
import { QrCanvas } from '../qr';
import { Link } from '../router';
import { confirmThen, ErrorNote, useEvery, useLoad, when } from '../ui';

const STATES: Record<number, string> = {
  [SessionState.CONNECTING]: 'connecting',
  [SessionState.PAIRING]: 'waiting to be linked',
  [SessionState.OPEN]: 'connected',
  [SessionState.CLOSED]: 'disconnected, retrying',
  [SessionState.LOGGED_OUT]: 'logged out',
  [SessionState.REPLACED]: 'replaced by another client',
  [SessionState.FORBIDDEN]: 'forbidden',
  [SessionState.BANNED]: 'banned',
  [SessionState.FAILED]: 'stopped after an error',
  [SessionState.UNPAIRED]: 'not linked',
};

const stateName = (state: SessionState): string => STATES[state] ?? 'unknown';

export function SessionsView() {
  const list = useLoad((signal) => sessions.listSessions({}, { signal }), '');
  // States change on the server (a reconnect, a logout from the phone): follow them.
  useEvery(5000, list.reload);
  const [note, setNote] = useState<string>();
  return (
    <>
      <section aria-labelledby="sessions-title">
        <h1 id="sessions-title">Sessions</h1>
        <ErrorNote error={list.error} />
        <p role="status">{note}</p>
        <div class="scroll">
          <table data-testid="sessions">
            <thead>
              <tr>
                <th scope="col">Session</th>
                <th scope="col">State</th>
                <th scope="col">Why</th>
                <th scope="col">Account</th>
                <th scope="col">Since</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {(list.value?.sessions ?? []).map((s) => (
                <SessionRow
                  key={s.sessionId}
                  session={s}
                  onLogout={async () => {
                    const asked = `Log ${s.sessionId} out of WhatsApp and delete its credentials?`;
                    const logout = () => sessions.logoutSession({ sessionId: s.sessionId });
                    if (await confirmThen(asked, logout, `${s.sessionId} logged out`, setNote)) list.reload();
                  }}
                />
              ))}
            </tbody>
          </table>
        </div>
        {list.value && list.value.sessions.length === 0 ? <p>No sessions yet: link one below.</p> : null}
      </section>
      <LinkSession onLinked={list.reload} />
    </>
  );
}

function SessionRow(props: { session: Session; onLogout: () => void }) {
  const s = props.session;
  const id = encodeURIComponent(s.sessionId);
  return (
    <tr>
      <th scope="row">{s.sessionId}</th>
      <td data-state={SessionState[s.state]}>{stateName(s.state)}</td>
      <td>{s.reason || '—'}</td>
      <td>{s.account || '—'}</td>
      <td>{when(s.updateTime)}</td>
      <td class="row-actions">
        <Link href={`/send?session=${id}`}>Send</Link> <Link href={`/learning/${id}`}>Learning</Link>{' '}
        <button type="button" class="link" onClick={props.onLogout} disabled={s.state === SessionState.LOGGED_OUT}>
          Log out
        </button>
      </td>
    </tr>
  );
}

interface Linking {
  readonly qr?: string;
  readonly qrCount: number;
  readonly pairingCode?: string;
  readonly session?: Session;
  readonly error?: string;
  readonly done: boolean;
}

/** ConnectSession, streamed: the QR codes as they come, then the state until open or stopped for good. */
function LinkSession(props: { onLinked: () => void }) {
  const [sessionId, setSessionId] = useState('');
  const [phone, setPhone] = useState('');
  const [linking, setLinking] = useState<Linking>();
  const abort = useRef<AbortController | undefined>(undefined);
  useEffect(() => () => abort.current?.abort(), []);
  const start = async () => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    let state: Linking = { qrCount: 0, done: false };
    setLinking(state);
    try {
      const request = { sessionId: sessionId.trim(), phoneNumber: phone.trim() };
      for await (const event of sessions.connectSession(request, { signal: controller.signal })) {
        const e = event.event;
        if (e.case === 'qr') state = { ...state, qr: e.value.code, qrCount: state.qrCount + 1 };
        else if (e.case === 'pairingCode') state = { ...state, pairingCode: e.value.code };
        else if (e.case === 'session') state = { ...state, session: e.value };
        setLinking(state);
      }
      setLinking({ ...state, done: true });
    } catch (e) {
      if (!controller.signal.aborted) setLinking({ ...state, error: describeError(e), done: true });
    }
    props.onLinked();
  };
  const open = linking?.session?.state === SessionState.OPEN;
  return (
    <section aria-labelledby="link-title" class="card">
      <h2 id="link-title">Link a session</h2>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void start();
        }}
      >
        <label for="link-session">Session id</label>
        <input
          id="link-session"
          required
          pattern="[A-Za-z0-9._\-]+"
          title="letters, digits, dot, dash and underscore"
          value={sessionId}
          onInput={(e) => setSessionId(e.currentTarget.value)}
        />
        <label for="link-phone">Phone number, for a pairing code instead of a QR code (optional)</label>
        <input
          id="link-phone"
          type="tel"
          autocomplete="off"
          placeholder="+44 7700 900123"
          value={phone}
          onInput={(e) => setPhone(e.currentTarget.value)}
        />
        <div class="actions">
          <button type="submit">Link</button>
          {linking && !linking.done ? (
            <button type="button" onClick={() => abort.current?.abort()}>
              Stop linking
            </button>
          ) : null}
        </div>
      </form>
      {linking ? (
        <div class="linking" aria-live="polite">
          {linking.qr && !open ? (
            <figure>
              <QrCanvas code={linking.qr} />
              <figcaption data-testid="qr-count">
                Scan in WhatsApp &gt; Settings &gt; Linked devices &gt; Link a device. Code {linking.qrCount}: it is replaced as WhatsApp
                rotates it.
              </figcaption>
            </figure>
          ) : null}
          {linking.pairingCode && !open ? (
            <p>
              Pairing code: <strong class="code">{linking.pairingCode}</strong> (WhatsApp &gt; Linked devices &gt; Link with phone number)
            </p>
          ) : null}
          {linking.session ? (
            <p data-testid="link-state">
              {linking.session.sessionId}: {stateName(linking.session.state)}
              {linking.session.reason ? ` (${linking.session.reason})` : ''}
            </p>
          ) : (
            <p>Starting…</p>
          )}
          <ErrorNote error={linking.error} />
        </div>
      ) : null}
    </section>
  );
}
