/** Small pieces every view uses: loading a call's result, showing its error, formatting numbers and times. */
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from './api';

export interface Loaded<T> {
  readonly value: T | undefined;
  readonly error: string | undefined;
  readonly loading: boolean;
  reload(): void;
}

/**
 * Runs `load` now, again whenever `key` (what the load depends on, as text)
 * changes, and on reload(). An answer is kept only for the request it
 * answers: a slow reply to an earlier key never overwrites a later one.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, key: string): Loaded<T> {
  const loader = useRef(load);
  loader.current = load;
  const [round, setRound] = useState(0);
  const request = `${round}:${key}`;
  const [state, setState] = useState<{ for?: string; value?: T; error?: string }>({});
  useEffect(() => {
    const abort = new AbortController();
    loader.current(abort.signal).then(
      (value) => !abort.signal.aborted && setState({ for: request, value }),
      (error: unknown) => !abort.signal.aborted && setState({ for: request, error: describeError(error) }),
    );
    return () => abort.abort();
  }, [request]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  // While a reload runs the last answer stays on screen, so lists do not flicker.
  return { value: state.value, error: state.error, loading: state.for !== request, reload };
}

/**
 * A destructive action: asks first, then runs `act`, and says in the note how it went.
 * False when the person said no, so the caller reloads only what may have changed.
 */
export async function confirmThen(
  question: string,
  act: () => Promise<unknown>,
  done: string,
  setNote: (note: string) => void,
): Promise<boolean> {
  if (!confirm(question)) return false;
  try {
    await act();
    setNote(done);
  } catch (e) {
    setNote(describeError(e));
  }
  return true;
}

export function ErrorNote(props: { error: string | undefined }) {
  return props.error ? (
    <p class="error" role="alert">
      {props.error}
    </p>
  ) : null;
}

const count = new Intl.NumberFormat('en');
export const n = (value: number | bigint): string => count.format(value);

/** A share as a percentage; '—' for what could not be computed (NaN when an arm has no variance). */
export function percent(share: number, digits = 1): string {
  if (!Number.isFinite(share)) return '—';
  return `${(share * 100).toFixed(digits)}%`;
}

export function when(time: Timestamp | undefined): string {
  if (!time) return '—';
  return new Date(Number(time.seconds) * 1000 + Math.round(time.nanos / 1e6)).toLocaleString();
}

export function ms(value: number | bigint): string {
  const v = Number(value);
  return v < 10_000 ? `${n(Math.round(v))} ms` : `${(v / 1000).toFixed(1)} s`;
}

/** Calls `tick` every `ms` while the tab is visible: lists that change on the server stay current without a reload. */
export function useEvery(ms: number, tick: () => void): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') latest.current();
    }, ms);
    return () => clearInterval(timer);
  }, [ms]);
}
