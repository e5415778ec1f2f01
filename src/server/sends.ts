/**
 * The sends running in this process, so shutdown can drain them: stop taking
 * new ones, give running ones a grace period, then cancel what is left (each
 * finishes its batch in flight and reports everyone else CANCELLED).
 */
export class RunningSends {
  private readonly running = new Map<AbortController, Promise<void>>();
  private draining = false;

  get size(): number {
    return this.running.size;
  }

  get accepting(): boolean {
    return !this.draining;
  }

  /**
   * Registers a send; returns its signal (aborted when the caller goes away or
   * the drain runs out of patience) and a function to call when it ends.
   */
  start(callerSignal: AbortSignal): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    const onCaller = () => controller.abort(callerSignal.reason);
    if (callerSignal.aborted) onCaller();
    else callerSignal.addEventListener('abort', onCaller, { once: true });
    let finish!: () => void;
    this.running.set(controller, new Promise<void>((resolve) => (finish = resolve)));
    return {
      signal: controller.signal,
      done: () => {
        callerSignal.removeEventListener('abort', onCaller);
        this.running.delete(controller);
        finish();
      },
    };
  }

  /** Refuses new sends; waits up to graceMs for running ones, then cancels them and waits for them to wind down. */
  async drain(graceMs: number): Promise<{ finished: number; cancelled: number }> {
    this.draining = true;
    const all = () => Promise.all([...this.running.values()]);
    const initial = this.running.size;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
    ]);
    clearTimeout(timer);
    const cancelled = timedOut ? this.running.size : 0;
    if (timedOut) {
      for (const controller of this.running.keys()) controller.abort(new Error('server shutting down'));
      await all();
    }
    return { finished: initial - cancelled, cancelled };
  }
}
