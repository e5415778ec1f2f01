/**
 * Send a story: text (with its background colour and font previewed) or an
 * image or video with a caption; recipients pasted, read from a file, a saved
 * list or all the session's contacts; a strategy or an experiment. The send
 * goes on without the page (ON_DISCONNECT_CONTINUE), so as soon as it is
 * planned the page moves to its live view, which a reload or another browser
 * can open too.
 */
import { useMemo, useState } from 'preact/hooks';
import { ExperimentState } from '../../../clients/typescript/src/gen/storycast/v1/experiment_service_pb';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { OnDisconnect, type StorySchema } from '../../../clients/typescript/src/gen/storycast/v1/story_service_pb';
import { describeError, experiments, sessions, stories } from '../api';
import { navigate } from '../router';
import { ErrorNote, n, useLoad } from '../ui';

/** WhatsApp's text status fonts, previewed with the nearest local family (the real faces are WhatsApp's). */
const FONTS = [
  ['Sans serif', 'system-ui, sans-serif'],
  ['Serif', 'Georgia, serif'],
  ['Script', 'cursive'],
  ['Handwritten', '"Comic Sans MS", cursive'],
  ['Condensed', '"Arial Narrow", sans-serif-condensed, sans-serif'],
  ['Heavy', 'Impact, sans-serif'],
  ['Bold', 'system-ui, sans-serif'],
  ['Rounded', '"Trebuchet MS", sans-serif'],
  ['Display', 'Georgia, serif'],
  ['Monospace', 'ui-monospace, monospace'],
] as const;

/** One recipient a line, or comma, semicolon or tab separated (a CSV's columns): whatever has digits enough to be a number or a JID. */
function parseRecipients(text: string): string[] {
  return text
    .split(/[\n\r,;\t]+/)
    .map((cell) => cell.trim().replace(/^"|"$/g, ''))
    .filter((cell) => (cell.match(/\d/g)?.length ?? 0) >= 6);
}

type Kind = 'text' | 'image' | 'video';

export function SendView() {
  const params = new URLSearchParams(location.search);
  const [sessionId, setSessionId] = useState(params.get('session') ?? 'demo');
  const [kind, setKind] = useState<Kind>('text');
  const [text, setText] = useState('');
  const [color, setColor] = useState('#1d7a55');
  const [font, setFont] = useState(0);
  const [file, setFile] = useState<File>();
  const [caption, setCaption] = useState('');
  const [pasted, setPasted] = useState('');
  const [list, setList] = useState('');
  const [allContacts, setAllContacts] = useState(false);
  const [chooser, setChooser] = useState<'strategy' | 'experiment'>('strategy');
  const [strategy, setStrategy] = useState('');
  const [experiment, setExperiment] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const known = useLoad((signal) => sessions.listSessions({}, { signal }), '');
  const strategies = useLoad((signal) => stories.listStrategies({}, { signal }), '');
  const running = useLoad((signal) => experiments.listExperiments({ state: ExperimentState.RUNNING }, { signal }), '');
  const id = sessionId.trim();
  const lists = useLoad((signal) => (id ? stories.listRecipientLists({ sessionId: id }, { signal }) : Promise.resolve(undefined)), id);
  const contacts = useLoad(
    (signal) => (id ? sessions.listContacts({ sessionId: id, pageSize: 1 }, { signal }) : Promise.resolve(undefined)),
    id,
  );
  const recipients = useMemo(() => parseRecipients(pasted), [pasted]);
  const preview = useMemo(() => (file ? URL.createObjectURL(file) : undefined), [file]);

  const submit = async () => {
    setError(undefined);
    setBusy(true);
    const content: MessageInitShape<typeof StorySchema> =
      kind === 'text'
        ? { content: { case: 'text', value: { text, backgroundColor: color, font } } }
        : {
            content: {
              case: kind,
              value: { source: { case: 'data', value: new Uint8Array(await file!.arrayBuffer()) }, caption, mimeType: file!.type },
            },
          };
    const abort = new AbortController();
    try {
      const request = {
        sessionId: id,
        story: content,
        recipients,
        recipientList: list,
        allContacts,
        strategy: chooser === 'strategy' ? strategy : '',
        experiment: chooser === 'experiment' ? experiment : '',
        requestId: crypto.randomUUID(),
        // The page moves on to WatchSend once planned: leaving must not cancel the send.
        onDisconnect: OnDisconnect.CONTINUE,
      };
      for await (const event of stories.sendStory(request, { signal: abort.signal })) {
        if (event.event.case === 'planned') {
          navigate(`/sends/${encodeURIComponent(event.event.value.sendId)}`);
          abort.abort();
          return;
        }
      }
    } catch (e) {
      if (!abort.signal.aborted) setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  const total = recipients.length;
  const contactCount = contacts.value?.totalSize ?? 0;
  return (
    <section aria-labelledby="send-title">
      <h1 id="send-title">Send a story</h1>
      <form
        class="send"
        onSubmit={(event) => {
          event.preventDefault();
          void submit();
        }}
      >
        <fieldset>
          <legend>From</legend>
          <label for="send-session">Session</label>
          <input id="send-session" list="known-sessions" required value={sessionId} onInput={(e) => setSessionId(e.currentTarget.value)} />
          <datalist id="known-sessions">
            {(known.value?.sessions ?? []).map((s) => (
              <option key={s.sessionId} value={s.sessionId} />
            ))}
          </datalist>
        </fieldset>

        <fieldset>
          <legend>Story</legend>
          <div class="choices" role="radiogroup" aria-label="Kind of story">
            {(['text', 'image', 'video'] as const).map((k) => (
              <label key={k} class="choice">
                <input type="radio" name="kind" value={k} checked={kind === k} onChange={() => setKind(k)} /> {k}
              </label>
            ))}
          </div>
          {kind === 'text' ? (
            <>
              <label for="story-text">Text</label>
              <textarea id="story-text" required rows={3} value={text} onInput={(e) => setText(e.currentTarget.value)} />
              <div class="row">
                <div>
                  <label for="story-color">Background colour</label>
                  <input id="story-color" type="color" value={color} onInput={(e) => setColor(e.currentTarget.value)} />
                </div>
                <div>
                  <label for="story-font">Font</label>
                  <select id="story-font" value={font} onChange={(e) => setFont(Number(e.currentTarget.value))}>
                    {FONTS.map(([name], i) => (
                      <option key={name} value={i}>
                        {i}: {name}
                      </option>
                    ))}
                  </select>
                </div>
              </div>
              <figure class="preview-frame">
                <div class="preview" data-testid="text-preview" style={{ background: color, fontFamily: FONTS[font]?.[1] }}>
                  {text || 'Your text here'}
                </div>
                <figcaption class="muted">Preview (fonts approximate)</figcaption>
              </figure>
            </>
          ) : (
            <>
              <label for="story-file">{kind === 'image' ? 'Image' : 'Video'} file</label>
              <input
                id="story-file"
                type="file"
                required
                accept={kind === 'image' ? 'image/*' : 'video/*'}
                onChange={(e) => setFile(e.currentTarget.files?.[0])}
              />
              {preview && kind === 'image' && file?.type.startsWith('image/') ? (
                <img class="media-preview" src={preview} alt="What will be posted" />
              ) : null}
              {file ? (
                <p class="muted">
                  {file.name}, {n(Math.ceil(file.size / 1024))} KiB, {file.type || 'type unknown'}
                </p>
              ) : null}
              <label for="story-caption">Caption</label>
              <input id="story-caption" value={caption} onInput={(e) => setCaption(e.currentTarget.value)} />
            </>
          )}
        </fieldset>

        <fieldset>
          <legend>Recipients</legend>
          <label for="recipients">Phone numbers or JIDs, one a line</label>
          <textarea id="recipients" rows={5} value={pasted} onInput={(e) => setPasted(e.currentTarget.value)} />
          <label for="recipients-file">Or read them from a file (text or CSV)</label>
          <input
            id="recipients-file"
            type="file"
            accept=".txt,.csv,text/plain,text/csv"
            onChange={async (e) => {
              const chosen = e.currentTarget.files?.[0];
              if (chosen) setPasted(await chosen.text());
            }}
          />
          <p data-testid="recipient-count" aria-live="polite">
            {n(total)} recipients from the list above
          </p>
          {(lists.value?.lists.length ?? 0) > 0 ? (
            <>
              <label for="recipient-list">Saved list</label>
              <select id="recipient-list" value={list} onChange={(e) => setList(e.currentTarget.value)}>
                <option value="">none</option>
                {lists.value!.lists.map((l) => (
                  <option key={l.name} value={l.name}>
                    {l.name} ({n(l.recipientCount)})
                  </option>
                ))}
              </select>
            </>
          ) : null}
          {contactCount > 0 ? (
            <label class="choice">
              <input type="checkbox" checked={allContacts} onChange={(e) => setAllContacts(e.currentTarget.checked)} /> All{' '}
              {n(contactCount)} contacts of this session
            </label>
          ) : null}
        </fieldset>

        <fieldset>
          <legend>Batch sizes chosen by</legend>
          <div class="choices" role="radiogroup" aria-label="Batch sizes chosen by">
            <label class="choice">
              <input type="radio" name="chooser" checked={chooser === 'strategy'} onChange={() => setChooser('strategy')} /> a strategy
            </label>
            <label class="choice">
              <input type="radio" name="chooser" checked={chooser === 'experiment'} onChange={() => setChooser('experiment')} /> an
              experiment
            </label>
          </div>
          {chooser === 'strategy' ? (
            <>
              <label for="strategy">Strategy</label>
              <select id="strategy" value={strategy} onChange={(e) => setStrategy(e.currentTarget.value)}>
                <option value="">server default ({strategies.value?.defaultStrategy ?? '…'})</option>
                {(strategies.value?.strategies ?? []).map((s) => (
                  <option key={s.name} value={s.name} title={s.description}>
                    {s.name}
                  </option>
                ))}
              </select>
            </>
          ) : (
            <>
              <label for="experiment">Experiment</label>
              <select id="experiment" required value={experiment} onChange={(e) => setExperiment(e.currentTarget.value)}>
                <option value="">choose one</option>
                {(running.value?.experiments ?? []).map((x) => (
                  <option key={x.key} value={x.key}>
                    {x.key}
                  </option>
                ))}
              </select>
            </>
          )}
        </fieldset>
        <ErrorNote error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Starting…' : 'Send'}
        </button>
      </form>
    </section>
  );
}
