import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

function problems(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('has the seed defaults with nothing set', () => {
    const { smartSend, server } = loadConfig({});
    expect(smartSend).toEqual({
      fastBatchThresholdMs: 2000,
      slowBatchThresholdMs: 10_000,
      minSuccessRate: 0.95,
      enableSessionLearning: true,
      sessionMemoryTTL: 24 * 60 * 60 * 1000,
      progressiveSequence: [100, 500, 1000, 2000, 4000, 5000],
      maxBatchSize: 10_000,
      minRecipientsForSmartSend: 100,
      maxBatchesPerSecond: 2,
      batchTimeoutMs: 15_000,
      maxAttempts: 3,
    });
    expect(server).toMatchObject({ store: 'sqlite://./data/storycast.sqlite', transport: 'simulated', defaultStrategy: 'adaptive' });
  });

  it('reads every variable', () => {
    const { smartSend, server } = loadConfig({
      SMART_SEND_FAST_THRESHOLD_MS: '1500',
      SMART_SEND_SLOW_THRESHOLD_MS: '9000',
      SMART_SEND_MIN_SUCCESS_RATE: '0.9',
      SMART_SEND_ENABLE_LEARNING: 'false',
      SMART_SEND_MEMORY_TTL_HOURS: '1.5',
      SMART_SEND_MAX_BATCH_SIZE: '8000',
      SMART_SEND_PROGRESSIVE_SEQUENCE: '50, 200,800',
      SMART_SEND_MIN_RECIPIENTS: '20',
      SMART_SEND_MAX_BATCHES_PER_SECOND: '0.5',
      SMART_SEND_BATCH_TIMEOUT_MS: '30000',
      SMART_SEND_MAX_ATTEMPTS: '5',
      STORYCAST_PORT: '0',
      STORYCAST_STORE: 'redis://localhost:6379',
      STORYCAST_STRATEGY_MODULES: './a.js, ./b.js',
    });
    expect(smartSend).toMatchObject({
      fastBatchThresholdMs: 1500,
      slowBatchThresholdMs: 9000,
      minSuccessRate: 0.9,
      enableSessionLearning: false,
      sessionMemoryTTL: 1.5 * 3_600_000,
      maxBatchSize: 8000,
      progressiveSequence: [50, 200, 800],
      minRecipientsForSmartSend: 20,
      maxBatchesPerSecond: 0.5,
      batchTimeoutMs: 30_000,
      maxAttempts: 5,
    });
    expect(server.port).toBe(0);
    expect(server.strategyModules).toEqual(['./a.js', './b.js']);
  });

  it.each([
    ['SMART_SEND_FAST_THRESHOLD_MS', 'abc'],
    ['SMART_SEND_FAST_THRESHOLD_MS', '2s'],
    ['SMART_SEND_SLOW_THRESHOLD_MS', '-1'],
    ['SMART_SEND_MIN_SUCCESS_RATE', '1.5'],
    ['SMART_SEND_MIN_SUCCESS_RATE', '-0.1'],
    ['SMART_SEND_ENABLE_LEARNING', 'flase'],
    ['SMART_SEND_MEMORY_TTL_HOURS', '0'],
    ['SMART_SEND_MAX_BATCH_SIZE', '10.5'],
    ['SMART_SEND_MAX_BATCH_SIZE', 'NaN'],
    ['SMART_SEND_PROGRESSIVE_SEQUENCE', '100,50,200'],
    ['SMART_SEND_PROGRESSIVE_SEQUENCE', '100,100'],
    ['SMART_SEND_PROGRESSIVE_SEQUENCE', '100,x'],
    ['SMART_SEND_MIN_RECIPIENTS', '0'],
    ['SMART_SEND_MAX_BATCHES_PER_SECOND', '0'],
    ['SMART_SEND_BATCH_TIMEOUT_MS', 'Infinity'],
    ['SMART_SEND_MAX_ATTEMPTS', '0'],
    ['STORYCAST_PORT', '70000'],
    ['STORYCAST_TRANSPORT', 'carrier-pigeon'],
    ['STORYCAST_STORE', 'postgres://x'],
    ['STORYCAST_LOG_LEVEL', 'loud'],
  ])('rejects %s=%s, naming the variable and the value', (name, value) => {
    const message = problems({ [name]: value });
    expect(message).toContain(name);
    expect(message).toContain(JSON.stringify(value));
  });

  it('reads the replica settings: lease TTL (10 s by default, 500 ms to 10 min) and the advertised address', () => {
    expect(loadConfig({}).server).toMatchObject({ leaseTtlMs: 10_000, advertiseAddress: undefined });
    expect(loadConfig({ STORYCAST_LEASE_TTL_MS: '3000', STORYCAST_ADVERTISE_ADDRESS: 'http://10.0.0.7:50051' }).server).toMatchObject({
      leaseTtlMs: 3000,
      advertiseAddress: 'http://10.0.0.7:50051',
    });
    for (const bad of ['100', '1e9', 'soon']) {
      expect(() => loadConfig({ STORYCAST_LEASE_TTL_MS: bad })).toThrow(`STORYCAST_LEASE_TTL_MS=${JSON.stringify(bad)}`);
    }
  });

  it('reads STORYCAST_SEND_RETENTION as a duration (7 days by default) and refuses what is not one', () => {
    expect(loadConfig({}).server.sendRetentionMs).toBe(7 * 86_400_000);
    expect(loadConfig({ STORYCAST_SEND_RETENTION: '12h' }).server.sendRetentionMs).toBe(12 * 3_600_000);
    expect(loadConfig({ STORYCAST_SEND_RETENTION: '30m' }).server.sendRetentionMs).toBe(30 * 60_000);
    for (const bad of ['soon', '7', '5s', '400d']) {
      expect(() => loadConfig({ STORYCAST_SEND_RETENTION: bad })).toThrow(`STORYCAST_SEND_RETENTION=${JSON.stringify(bad)}`);
    }
  });

  it('reports every bad variable in one message', () => {
    const message = problems({ SMART_SEND_MAX_ATTEMPTS: 'x', SMART_SEND_MIN_SUCCESS_RATE: '2' });
    expect(message).toContain('SMART_SEND_MAX_ATTEMPTS');
    expect(message).toContain('SMART_SEND_MIN_SUCCESS_RATE');
  });

  it('rejects a slow threshold not above the fast one', () => {
    expect(problems({ SMART_SEND_FAST_THRESHOLD_MS: '12000' })).toContain('SMART_SEND_SLOW_THRESHOLD_MS');
  });

  it('judges the slow threshold against the fast one only once both parse, not against a default nobody chose', () => {
    expect(problems({ SMART_SEND_FAST_THRESHOLD_MS: '12000', SMART_SEND_SLOW_THRESHOLD_MS: 'x' })).toBe(
      'invalid configuration:\n  SMART_SEND_SLOW_THRESHOLD_MS="x": expected an integer >= 0',
    );
    expect(problems({ SMART_SEND_FAST_THRESHOLD_MS: '3000', SMART_SEND_SLOW_THRESHOLD_MS: '3000' })).toBe(
      'invalid configuration:\n  SMART_SEND_SLOW_THRESHOLD_MS="3000": expected more than SMART_SEND_FAST_THRESHOLD_MS="3000"',
    );
  });

  it('reports a rule across variables together with the others, and a bad list once', () => {
    expect(problems({ STORYCAST_TLS_KEY: './key.pem', SMART_SEND_PROGRESSIVE_SEQUENCE: 'a,b' })).toBe(
      'invalid configuration:\n' +
        '  SMART_SEND_PROGRESSIVE_SEQUENCE="a,b": expected a comma-separated, strictly increasing list of positive integers\n' +
        '  STORYCAST_TLS_KEY="./key.pem": STORYCAST_TLS_CERT must be set too (TLS needs both a certificate and a key)',
    );
  });

  it('reads the spellings people use for booleans and trims values', () => {
    const { smartSend, server } = loadConfig({
      SMART_SEND_ENABLE_LEARNING: ' Off ',
      STORYCAST_CHECK_RECIPIENTS: 'YES',
      STORYCAST_TRANSPORT: ' baileys ',
    });
    expect([smartSend.enableSessionLearning, server.checkRecipients, server.transport]).toEqual([false, true, 'baileys']);
  });

  it('treats blank values as unset', () => {
    expect(loadConfig({ SMART_SEND_MAX_BATCH_SIZE: ' ' }).smartSend.maxBatchSize).toBe(10_000);
  });

  it('caps the sequence at maxBatchSize so lowering the ceiling alone works', () => {
    expect(loadConfig({ SMART_SEND_MAX_BATCH_SIZE: '1500' }).smartSend.progressiveSequence).toEqual([100, 500, 1000, 1500]);
    expect(loadConfig({ SMART_SEND_MAX_BATCH_SIZE: '5000' }).smartSend.progressiveSequence).toEqual([100, 500, 1000, 2000, 4000, 5000]);
  });
});
