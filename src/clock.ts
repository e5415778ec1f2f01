/**
 * Time, injected. The engine, the pacer and the simulated network read time
 * only through a Clock, so the same code runs in real time (the server) and
 * in virtual time (tests, the benchmark) where a 100k-recipient send with
 * timeouts costs milliseconds of CPU instead of minutes.
 */

export interface Clock {
  /** Milliseconds on this clock's own time line. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason if aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Node fires longer timers after ~1 ms; nobody should sleep that long anyway. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay a timer can use: NaN and negatives mean "now", so a bad caller cannot corrupt time. */
function safeDelay(ms: number): number {
  return Number.isNaN(ms) || ms < 0 ? 0 : ms;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/** Real time, optionally sped up: with scale 10, sleep(1000) takes 100 ms and now() runs 10x. */
export class SystemClock implements Clock {
  private readonly origin = Date.now();
  constructor(private readonly scale = 1) {
    if (!(scale > 0)) throw new RangeError(`clock scale must be > 0, got ${scale}`);
  }

  now(): number {
    return this.origin + (Date.now() - this.origin) * this.scale;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortReason(signal!));
      };
      const timer = setTimeout(
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.min(MAX_TIMER_MS, safeDelay(ms) / this.scale),
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

export const systemClock: Clock = new SystemClock();

interface Timer {
  at: number;
  seq: number;
  fire: () => void;
  cancelled: boolean;
}

/**
 * Discrete-event time. Timers fire only when {@link VirtualClock.run} finds
 * every task idle (nothing left in the microtask and I/O queues that could
 * still schedule an earlier timer); then time jumps to the earliest timer.
 * Timers due at the same instant fire in the order they were set.
 */
export class VirtualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly heap: Timer[] = [];

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const timer: Timer = {
        at: this.time + safeDelay(ms),
        seq: this.seq++,
        cancelled: false,
        fire: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        timer.cancelled = true;
        reject(abortReason(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.push(timer);
    });
  }

  /** When the earliest live timer is due, or undefined when none is. */
  nextTimerAt(): number | undefined {
    return this.peek()?.at;
  }

  /** Moves time on to `at` with no timer to fire, or to the earliest live timer if that comes first: never past one. */
  skipTo(at: number): void {
    this.time = Math.max(this.time, Math.min(at, this.nextTimerAt() ?? at));
  }

  /** Timers still waiting (cancelled ones excluded). */
  get pending(): number {
    return this.heap.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing every timer due on the way. */
  async advance(ms: number): Promise<void> {
    const until = this.time + safeDelay(ms);
    for (;;) {
      await settle();
      const next = this.peek();
      if (!next || next.at > until) break;
      this.fireNext();
    }
    this.time = until;
    await settle();
  }

  /**
   * Drives `work` to completion in virtual time: whenever nothing is runnable,
   * jump to the next timer. Throws if the work waits with no timer left
   * (a deadlock in virtual time would otherwise hang the test). `idleLimitMs`
   * is how much real time the work may spend with no timer pending, waiting on
   * real I/O such as a store; keep it above the store's own operation timeout.
   */
  async run<T>(work: Promise<T> | (() => Promise<T>), { idleLimitMs = 5000 } = {}): Promise<T> {
    const promise = typeof work === 'function' ? work() : work;
    let done = false;
    let idleSince: number | undefined;
    promise.then(
      () => (done = true),
      () => (done = true),
    );
    for (;;) {
      await settle();
      if (done) return promise;
      if (this.peek()) {
        idleSince = undefined;
        this.fireNext();
        continue;
      }
      // Nothing scheduled: real I/O (a store) may still be in flight; give it real time.
      idleSince ??= performance.now();
      if (performance.now() - idleSince > idleLimitMs) {
        throw new Error(`VirtualClock.run: work is waiting but no timer is pending (idle for ${idleLimitMs} ms of real time)`);
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  private fireNext(): void {
    const timer = this.pop()!;
    this.time = Math.max(this.time, timer.at);
    timer.fire();
  }

  private peek(): Timer | undefined {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    return this.heap[0];
  }

  private push(timer: Timer): void {
    const h = this.heap;
    h.push(timer);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Lets every queued microtask and immediate run, so idle really means idle. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Virtual time played back in real time, `scale` times faster: what the
 * simulated network runs on in `npm start`. Time moves only in whole steps and
 * never within one event-loop turn, as in VirtualClock, so a simulated call's
 * measured duration is exactly the model's latency; a SystemClock sped up 100x
 * would instead add every real millisecond of event-loop work to it, a hundred
 * times over. Each virtual instant has a fixed place in real time (from when
 * the clock was made): a timer fires at its place, or at once if that has
 * passed, and the first reading in a turn that no timer is running catches up
 * with real time, short of any timer not yet fired. So a busy spell delays the
 * timers due in it, but not every timer after it, and a send that starts after
 * a quiet spell starts at the real time, not where the last timer left the clock.
 */
export class ScaledClock implements Clock {
  private readonly virtual: VirtualClock;
  private readonly virtualOrigin: number;
  private readonly realOrigin = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private armedFor: number | undefined;
  private pumping = false;
  /** Read once in this turn already: later readings in it see the same time. */
  private frozen = false;
  private readonly thaw = () => {
    this.frozen = false;
  };

  constructor(
    private readonly scale = 1,
    start = Date.now(),
  ) {
    if (!(scale > 0)) throw new RangeError(`clock scale must be > 0, got ${scale}`);
    this.virtual = new VirtualClock(start);
    this.virtualOrigin = start;
  }

  now(): number {
    // While timers fire, time is theirs: it moves to each as it fires.
    if (!this.pumping && !this.frozen) {
      this.virtual.skipTo(Math.floor(this.virtualOrigin + (performance.now() - this.realOrigin) * this.scale));
      this.frozen = true;
      setImmediate(this.thaw);
    }
    return this.virtual.now();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    const done = this.virtual.sleep(ms, signal);
    this.arm();
    return done;
  }

  /** Real ms from now until virtual time `at` comes; 0 when it has already. */
  private realDelay(at: number): number {
    return Math.max(0, this.realOrigin + (at - this.virtualOrigin) / this.scale - performance.now());
  }

  /** Points the one real timer at the earliest virtual timer. */
  private arm(): void {
    if (this.pumping) return;
    const at = this.virtual.nextTimerAt();
    if (at === this.armedFor) return;
    clearTimeout(this.timer);
    this.armedFor = at;
    if (at === undefined) return;
    this.timer = setTimeout(() => void this.pump(at), Math.min(MAX_TIMER_MS, this.realDelay(at)));
  }

  /** Fires the timer armed for, then every later one whose real moment has passed too (no 1 ms timer between them). */
  private async pump(at: number): Promise<void> {
    this.pumping = true;
    this.armedFor = undefined;
    try {
      for (let next: number | undefined = at; next !== undefined; next = this.virtual.nextTimerAt()) {
        if (next !== at && this.realDelay(next) > 0) break;
        await this.virtual.advance(next - this.virtual.now());
      }
    } finally {
      this.pumping = false;
      this.arm();
    }
  }
}
