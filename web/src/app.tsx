/** The console's frame: navigation, the API key prompt, and the view the address names. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { apiKey, onKeyNeeded, setApiKey } from './api';
import { Link, navigate, usePath } from './router';
import { ExperimentsView } from './views/experiments';
import { LearningView } from './views/learning';
import { LiveView, SendsView } from './views/live';
import { SendView } from './views/send';
import { SessionsView } from './views/sessions';

const SECTIONS = [
  ['/sessions', 'Sessions'],
  ['/send', 'Send a story'],
  ['/sends', 'Sends'],
  ['/learning', 'Session learning'],
  ['/experiments', 'Experiments'],
] as const;

function route(path: string) {
  const [, first = '', second] = path.split('/').map(decodeURIComponent);
  switch (first) {
    case 'sessions':
      return <SessionsView />;
    case 'send':
      return <SendView />;
    case 'sends':
      return second ? <LiveView key={second} sendId={second} /> : <SendsView />;
    case 'learning':
      return <LearningView sessionId={second ?? ''} />;
    case 'experiments':
      return <ExperimentsView selected={second ?? ''} />;
    default:
      return null;
  }
}

export function App() {
  const path = usePath();
  const [askKey, setAskKey] = useState<string | null>(null);
  useEffect(() => onKeyNeeded((error) => setAskKey(error.rawMessage)), []);
  useEffect(() => {
    if (path === '/') navigate('/sessions', true);
  }, [path]);
  const main = useRef<HTMLElement>(null);
  // A new view: move focus to it so keyboard and screen reader users start there.
  useEffect(() => main.current?.focus(), [path]);
  const section = SECTIONS.find(([href]) => path === href || path.startsWith(`${href}/`))?.[0];
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <span class="brand">storycast</span>
        <nav aria-label="Console">
          <ul>
            {SECTIONS.map(([href, label]) => (
              <li key={href}>
                <Link href={href} current={section === href}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        {apiKey() ? (
          <button
            type="button"
            class="link"
            onClick={() => {
              setApiKey(null);
              setAskKey('signed out');
            }}
          >
            Forget API key
          </button>
        ) : null}
      </header>
      {askKey !== null ? <KeyPrompt why={askKey} onDone={() => setAskKey(null)} /> : null}
      <main id="main" ref={main} tabIndex={-1}>
        {route(path)}
      </main>
    </>
  );
}

/** Asked for when the server refuses a call without a valid key; kept for this tab only. */
function KeyPrompt(props: { why: string; onDone: () => void }) {
  const [key, setKey] = useState('');
  return (
    <section class="card key" aria-labelledby="key-title">
      <h2 id="key-title">API key needed</h2>
      <p>This server asks for an API key ({props.why}). It is kept in this browser tab only, and sent with each call as a bearer token.</p>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          setApiKey(key.trim() || null);
          props.onDone();
          location.reload();
        }}
      >
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autocomplete="off" required value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        <button type="submit">Use this key</button>
      </form>
    </section>
  );
}
