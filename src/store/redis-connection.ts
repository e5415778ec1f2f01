/**
 * One redis connection for a store that must fail fast: node-redis queues a
 * MULTI or a pipeline while disconnected and never times it out
 * (disableOfflineQueue and the command timeout cover single commands only),
 * so every call here checks that the client is ready, refusing at once while
 * it reconnects, and runs under its own timeout. It connects lazily and
 * reconnects forever with capped backoff: a redis restart heals by itself.
 */
import { createClient } from '@redis/client';
import type { Logger } from '../log.js';
import { redactUrl } from '../util/redact-url.js';
import { throttledErrorLogger } from './throttled-errors.js';

export type RedisClient = ReturnType<typeof createClient>;

export interface RedisConnectionOptions {
  readonly url: string;
  readonly logger: Logger;
  /** Names the store in errors and logs: "send store", "experiment store". */
  readonly label: string;
  /** Bounds each call (and the first connect). Default 2000. */
  readonly commandTimeoutMs?: number;
  /** Longest pause between reconnect attempts. Default 2000. */
  readonly maxReconnectDelayMs?: number;
  /** How often the same connection error may be logged again. Default 60 s. */
  readonly errorLogIntervalMs?: number;
}

export class RedisConnection {
  readonly client: RedisClient;
  private readonly timeoutMs: number;
  private readonly where: string;
  private readonly label: string;
  private connecting: Promise<void> | undefined;
  /** The first connection succeeded; from then on the client reconnects by itself. */
  private connected = false;
  private closed = false;

  constructor(opts: RedisConnectionOptions) {
    this.label = opts.label;
    this.timeoutMs = opts.commandTimeoutMs ?? 2000;
    this.where = redactUrl(opts.url);
    const maxDelay = opts.maxReconnectDelayMs ?? 2000;
    this.client = createClient({
      url: opts.url,
      disableOfflineQueue: true,
      commandOptions: { timeout: this.timeoutMs },
      socket: {
        connectTimeout: this.timeoutMs,
        reconnectStrategy: (retries: number) => Math.min(100 * 2 ** Math.min(retries, 10), maxDelay),
      },
    });
    // Without a listener, an 'error' event (every failed reconnect) would crash the process.
    this.client.on(
      'error',
      throttledErrorLogger(opts.logger, { store: this.where, message: `${this.label} error` }, opts.errorLogIntervalMs),
    );
  }

  /** Rejects if redis is not reachable within the command timeout (it keeps trying in the background). */
  async ready(): Promise<void> {
    if (this.closed) throw new Error(`${this.label}: the redis store is closed`);
    if (this.client.isReady) return;
    // Connected once and now reconnecting: refuse at once rather than queue.
    if (this.connected) throw new Error(`${this.label}: redis at ${this.where} is unavailable (reconnecting)`);
    this.connecting ??= this.client.connect().then(
      () => {
        this.connected = true;
      },
      (error: unknown) => {
        // Given up (closed, or a fatal error): the next call starts over.
        this.connecting = undefined;
        throw error;
      },
    );
    await withTimeout(this.connecting, this.timeoutMs, `${this.label}: redis at ${this.where} is unavailable (not connected)`);
  }

  /** `rounds`: how many command timeouts the call may take (calls that make several round trips or read a lot). */
  async run<T>(what: string, op: (client: RedisClient) => Promise<T>, rounds = 1): Promise<T> {
    await this.ready();
    const ms = this.timeoutMs * rounds;
    return withTimeout(op(this.client), ms, `${this.label}: redis ${what} at ${this.where} timed out after ${ms} ms`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.client.isOpen) return;
    // close() waits for replies that will never come while redis is down.
    if (this.client.isReady) await this.client.close();
    else this.client.destroy();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
