/**
 * What one simulated network holds: the per-session model state, the call log
 * and what was delivered. The network (the Transport) writes it; its oracle
 * reads it and its controls script it. Not exported beyond src/transport/sim.
 */
import type { Clock } from '../../clock.js';
import type { TransportErrorCode } from '../port.js';
import { RateLimiter, rateWindows } from './model.js';
import type { SimProfile } from './profile.js';
import { createRng, deriveSeed, type Rng } from './rng.js';
import type { SimCall } from './oracle.js';

export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface SimSession {
  readonly rng: Rng;
  /**
   * The tail's draws come from their own stream so that profiles without a
   * tail keep the exact jitter and failure sequence they had before tails
   * existed, and a tail never shifts the main stream.
   */
  readonly tailRng: Rng;
  /** Receipts draw from their own stream too: listening for them never changes a send. */
  readonly receiptRng: Rng;
  readonly limiter: RateLimiter;
  readonly messageIds: Set<string>;
  readonly scripted: { code: TransportErrorCode; remaining: number }[];
  prepares: number;
  loggedOut: boolean;
}

export class SimState {
  /** The time base of capacitySchedule and failureBursts. */
  readonly createdAt: number;
  readonly log: Mutable<SimCall>[] = [];
  /** The recipient lists of successful calls, per message id: counted only when asked (a benchmark never asks). */
  readonly delivered = new Map<string, (readonly string[])[]>();
  private readonly sessions = new Map<string, SimSession>();

  constructor(
    readonly profile: SimProfile,
    readonly clock: Clock,
    private readonly seed: number,
  ) {
    this.createdAt = clock.now();
  }

  /** The session's state, created on first use: every session id is a session on this network. */
  session(sessionId: string): SimSession {
    let session = this.sessions.get(sessionId);
    if (!session) {
      session = {
        rng: createRng(deriveSeed(this.seed, sessionId)),
        tailRng: createRng(deriveSeed(deriveSeed(this.seed, 'latency-tail'), sessionId)),
        receiptRng: createRng(deriveSeed(deriveSeed(this.seed, 'receipts'), sessionId)),
        limiter: new RateLimiter(rateWindows(this.profile)),
        messageIds: new Set(),
        scripted: [],
        prepares: 0,
        loggedOut: false,
      };
      this.sessions.set(sessionId, session);
    }
    return session;
  }

  /** Reads without creating: looking at a session must not change the network. */
  peek(sessionId: string): SimSession | undefined {
    return this.sessions.get(sessionId);
  }
}
