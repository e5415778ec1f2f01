/**
 * What the process itself shows during a run: unhandled rejections, uncaught
 * exceptions and warnings (MaxListenersExceeded is how a listener leak shows),
 * the server's error logs, and the heap after a forced GC.
 */
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino, type Logger } from 'pino';

export class ProcessWatch {
  readonly unhandledRejections: string[] = [];
  readonly uncaughtExceptions: string[] = [];
  readonly warnings: string[] = [];
  private readonly onRejection = (reason: unknown) => this.unhandledRejections.push(describe(reason));
  private readonly onException = (error: unknown) => this.uncaughtExceptions.push(describe(error));
  private readonly onWarning = (warning: Error) => this.warnings.push(`${warning.name}: ${warning.message}`);

  start(): this {
    process.on('unhandledRejection', this.onRejection);
    process.on('uncaughtException', this.onException);
    process.on('warning', this.onWarning);
    return this;
  }

  stop(): void {
    process.off('unhandledRejection', this.onRejection);
    process.off('uncaughtException', this.onException);
    process.off('warning', this.onWarning);
  }
}

function describe(value: unknown): string {
  return value instanceof Error ? (value.stack ?? `${value.name}: ${value.message}`) : String(value);
}

/** A logger for the server that keeps its error and fatal lines (it logs each failed call at warn: those are expected here). */
export function errorLogCollector(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (lines.length < 50) lines.push(chunk.toString('utf8').slice(0, 2000));
      done();
    },
  });
  return { logger: pino({ level: 'error' }, sink), lines };
}

/** global.gc, also when node was started without --expose-gc (as under vitest). */
function gcFunction(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export interface HeapFigures {
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly rss: number;
}

/** Memory after full collections, with turns of the event loop between them so that finalisers and closed streams let go. */
export async function settledMemory(): Promise<HeapFigures> {
  const gc = gcFunction();
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const { heapUsed, external, arrayBuffers, rss } = process.memoryUsage();
  return { heapUsed, external, arrayBuffers, rss };
}
