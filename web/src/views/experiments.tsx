/**
 * Experiments: strategies tried against each other on real sends. Create one
 * (its arms, their weights, the unit a strategy is assigned by), read its
 * results (each arm's distribution of time per 1,000 recipients, the
 * comparisons with the control, the verdict) and stop it.
 */
import { useState } from 'preact/hooks';
import {
  type ArmResult,
  ExperimentState,
  ExperimentUnit,
  type GetExperimentResultsResponse,
} from '../../../clients/typescript/src/gen/storycast/v1/experiment_service_pb';
import { describeError, experiments, stories } from '../api';
import { Link, navigate } from '../router';
import { confirmThen, ErrorNote, ms, n, percent, useEvery, useLoad, when } from '../ui';

export function ExperimentsView(props: { selected: string }) {
  const list = useLoad((signal) => experiments.listExperiments({}, { signal }), '');
  return (
    <>
      <section aria-labelledby="experiments-title">
        <h1 id="experiments-title">Experiments</h1>
        <ErrorNote error={list.error} />
        <ul class="plain" data-testid="experiments">
          {(list.value?.experiments ?? []).map((x) => (
            <li key={x.key}>
              <Link href={`/experiments/${encodeURIComponent(x.key)}`} current={x.key === props.selected}>
                {x.key}
              </Link>{' '}
              — {x.state === ExperimentState.RUNNING ? 'running' : `stopped${x.winner ? `, winner ${x.winner}` : ''}`};{' '}
              {x.arms.map((a) => `${a.name} (${a.strategy}, weight ${a.weight}${a.control ? ', control' : ''})`).join(' vs ')}
            </li>
          ))}
        </ul>
        {list.value && list.value.experiments.length === 0 ? <p>No experiments yet.</p> : null}
      </section>
      {props.selected ? <Results key={props.selected} experimentKey={props.selected} onChange={list.reload} /> : null}
      <CreateExperiment onCreated={list.reload} />
    </>
  );
}

function Results(props: { experimentKey: string; onChange: () => void }) {
  const results = useLoad((signal) => experiments.getExperimentResults({ key: props.experimentKey }, { signal }), props.experimentKey);
  const [note, setNote] = useState<string>();
  const r = results.value;
  const x = r?.experiment;
  // Sends keep ending while an experiment runs: its numbers follow them.
  useEvery(10_000, () => {
    if (x?.state === ExperimentState.RUNNING) results.reload();
  });
  return (
    <section aria-labelledby="results-title" class="card">
      <h2 id="results-title">Results of {props.experimentKey}</h2>
      <ErrorNote error={results.error} />
      {r && x ? (
        <>
          <p>
            {x.description ? `${x.description}. ` : ''}Unit: {x.unit === ExperimentUnit.SEND ? 'send' : 'session'}; coverage{' '}
            {percent(x.coverage || 1, 0)}; since {when(x.createTime)}
            {x.stopTime ? `; stopped ${when(x.stopTime)}` : ''}.
          </p>
          <p class="verdict" data-testid="verdict">
            <strong>Verdict:</strong> {r.verdict || 'not enough data yet'}
          </p>
          <ArmsTable results={r} />
          <div class="actions">
            <button type="button" onClick={results.reload}>
              Refresh
            </button>
            {x.state === ExperimentState.RUNNING ? (
              <button
                type="button"
                onClick={async () => {
                  const asked = `Stop ${x.key}? New sends get the control's strategy.`;
                  if (!(await confirmThen(asked, () => experiments.stopExperiment({ key: x.key }), 'stopped', setNote))) return;
                  results.reload();
                  props.onChange();
                }}
              >
                Stop experiment
              </button>
            ) : null}
            <span role="status">{note}</span>
          </div>
        </>
      ) : null}
    </section>
  );
}

function ArmsTable(props: { results: GetExperimentResultsResponse }) {
  const { arms, comparisons } = props.results;
  const top = Math.max(1, ...arms.flatMap((a) => a.unitMsPerThousand));
  return (
    <div class="scroll">
      <table data-testid="arms" class="wide">
        <thead>
          <tr>
            <th scope="col">Arm</th>
            <th scope="col">Units / sends</th>
            <th scope="col">Time per 1,000 (95% CI)</th>
            <th scope="col">Distribution</th>
            <th scope="col">Failed calls per send</th>
            <th scope="col">Finished</th>
            <th scope="col">vs control</th>
          </tr>
        </thead>
        <tbody>
          {arms.map((a) => {
            const c = comparisons.find((x) => x.arm === a.arm);
            return (
              <tr key={a.arm}>
                <th scope="row">
                  {a.arm}
                  <br />
                  <span class="muted">
                    {a.strategy}
                    {a.control ? ', control' : ''}
                  </span>
                </th>
                <td>
                  {n(a.units)} / {n(a.sends)}
                </td>
                <td>
                  {a.msPerThousand ? `${ms(a.msPerThousand.mean)} (${ms(a.msPerThousand.ciLow)}–${ms(a.msPerThousand.ciHigh)})` : '—'}
                </td>
                <td>
                  <Strip arm={a} top={top} />
                </td>
                <td>{a.failedCallsPerSend ? a.failedCallsPerSend.mean.toFixed(2) : '—'}</td>
                <td>{percent(a.finishedShare, 0)}</td>
                <td>
                  {c ? (
                    <Comparison difference={c.relativeDifference} low={c.ciLow} high={c.ciHigh} p={c.pValue} significant={c.significant} />
                  ) : null}
                  {!c && a.control ? 'control' : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function Comparison(props: { difference: number; low: number; high: number; p: number; significant: boolean }) {
  if (!Number.isFinite(props.difference)) return <>cannot be compared yet</>;
  const sign = props.difference >= 0 ? '+' : '';
  return (
    <>
      {sign}
      {percent(props.difference)} ({percent(props.low)} to {percent(props.high)}), p={Number.isFinite(props.p) ? props.p.toFixed(3) : '—'}
      {props.significant ? ', significant' : ''}
    </>
  );
}

/** Each unit's time per 1,000 as a tick on one scale shared by the arms, the mean as a bar. */
function Strip(props: { arm: ArmResult; top: number }) {
  const { arm, top } = props;
  const x = (v: number) => 4 + (v / top) * 152;
  const values = arm.unitMsPerThousand;
  return (
    <svg
      viewBox="0 0 160 24"
      width="160"
      height="24"
      role="img"
      aria-label={`${values.length} units, ${values.map((v) => ms(v)).join(', ')}`}
    >
      <line x1="4" x2="156" y1="12" y2="12" class="grid" />
      <path d={values.map((v) => `M${x(v).toFixed(1)} 5V19`).join('')} class="tickmark" />
      {arm.msPerThousand ? <line x1={x(arm.msPerThousand.mean)} x2={x(arm.msPerThousand.mean)} y1="1" y2="23" class="mean" /> : null}
    </svg>
  );
}

interface ArmDraft {
  /** Stable while the arm is edited, for the list's keys. */
  id: number;
  name: string;
  strategy: string;
  weight: number;
}

function CreateExperiment(props: { onCreated: () => void }) {
  const strategies = useLoad((signal) => stories.listStrategies({}, { signal }), '');
  const names = (strategies.value?.strategies ?? []).map((s) => s.name);
  const [key, setKey] = useState('');
  const [description, setDescription] = useState('');
  const [unit, setUnit] = useState(ExperimentUnit.SEND);
  const [arms, setArms] = useState<ArmDraft[]>([
    { id: 0, name: 'control', strategy: 'adaptive', weight: 50 },
    { id: 1, name: 'treatment', strategy: 'aggressive', weight: 50 },
  ]);
  const [error, setError] = useState<string>();
  const update = (i: number, change: Partial<ArmDraft>) => setArms(arms.map((a, j) => (i === j ? { ...a, ...change } : a)));
  return (
    <section aria-labelledby="create-title" class="card">
      <h2 id="create-title">Create an experiment</h2>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          setError(undefined);
          try {
            const experiment = {
              key: key.trim(),
              description,
              unit,
              arms: arms.map((a, i) => ({ name: a.name, strategy: a.strategy, weight: a.weight, control: i === 0 })),
            };
            await experiments.createExperiment({ experiment });
            props.onCreated();
            navigate(`/experiments/${encodeURIComponent(experiment.key)}`);
          } catch (e) {
            setError(describeError(e));
          }
        }}
      >
        <label for="exp-key">Key</label>
        <input id="exp-key" required pattern="[A-Za-z0-9._\-]{1,64}" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        <label for="exp-description">Description</label>
        <input id="exp-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        <label for="exp-unit">Assign a strategy per</label>
        <select id="exp-unit" value={unit} onChange={(e) => setUnit(Number(e.currentTarget.value))}>
          <option value={ExperimentUnit.SEND}>send</option>
          <option value={ExperimentUnit.SESSION}>session</option>
        </select>
        <fieldset>
          <legend>Arms (the first is the control)</legend>
          {arms.map((a, i) => (
            <div class="row arm" key={a.id}>
              <div>
                <label for={`arm-name-${i}`}>Name</label>
                <input id={`arm-name-${i}`} required value={a.name} onInput={(e) => update(i, { name: e.currentTarget.value })} />
              </div>
              <div>
                <label for={`arm-strategy-${i}`}>Strategy</label>
                <select id={`arm-strategy-${i}`} value={a.strategy} onChange={(e) => update(i, { strategy: e.currentTarget.value })}>
                  {(names.includes(a.strategy) ? names : [a.strategy, ...names]).map((s) => (
                    <option key={s} value={s}>
                      {s}
                    </option>
                  ))}
                </select>
              </div>
              <div>
                <label for={`arm-weight-${i}`}>Weight</label>
                <input
                  id={`arm-weight-${i}`}
                  type="number"
                  min={1}
                  required
                  value={a.weight}
                  onInput={(e) => update(i, { weight: Number(e.currentTarget.value) })}
                />
              </div>
            </div>
          ))}
          <div class="actions">
            <button
              type="button"
              onClick={() =>
                setArms([
                  ...arms,
                  { id: Math.max(...arms.map((a) => a.id)) + 1, name: `arm${arms.length}`, strategy: 'conservative', weight: 50 },
                ])
              }
            >
              Add an arm
            </button>
            {arms.length > 2 ? (
              <button type="button" onClick={() => setArms(arms.slice(0, -1))}>
                Remove the last arm
              </button>
            ) : null}
          </div>
        </fieldset>
        <ErrorNote error={error} />
        <button type="submit">Create</button>
      </form>
    </section>
  );
}
