/**
 * The server under fuzz: the real handler on a real port, with the simulated
 * network a million times faster than real time (a send takes milliseconds)
 * on a profile without failures or jitter, memory in memory, and a send clock
 * the harness can move past the retention so that memory is measured with
 * what the server is meant to forget forgotten.
 */
import { type Clock, systemClock } from '../../src/clock.js';
import type { Logger } from '../../src/log.js';
import { startTestServer, type TestServer } from '../support/storycast-server.js';

/** Real time plus an offset that only grows. */
export class ShiftableClock implements Clock {
  private offset = 0;

  now(): number {
    return Date.now() + this.offset;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }

  shift(ms: number): void {
    this.offset += ms;
  }
}

const FUZZ_ENV = {
  STORYCAST_STORE: 'memory://',
  // Simulated, never Baileys: the fuzzer sends media URLs, and nothing may leave this machine.
  STORYCAST_TRANSPORT: 'simulated',
  STORYCAST_SIM_PROFILE: 'seed-first-send',
  STORYCAST_SIM_TIME_SCALE: '1000000',
} as const;

export async function startFuzzServer(logger: Logger): Promise<{ server: TestServer; clock: ShiftableClock }> {
  const clock = new ShiftableClock();
  const server = await startTestServer(FUZZ_ENV, { logger, sendClock: clock, graceMs: 2000 });
  return { server, clock };
}
