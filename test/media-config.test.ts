import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('STORYCAST_MAX_MEDIA_BYTES', () => {
  it('defaults to 64 MiB', () => {
    expect(loadConfig({}).server.maxMediaBytes).toBe(67_108_864);
  });

  it('takes a byte count', () => {
    expect(loadConfig({ STORYCAST_MAX_MEDIA_BYTES: '1048576' }).server.maxMediaBytes).toBe(1_048_576);
  });

  it.each(['0', '-1', '1.5', '64MiB', '2147483648'])('stops start-up on %s, naming the variable and the value', (value) => {
    expect(() => loadConfig({ STORYCAST_MAX_MEDIA_BYTES: value })).toThrow(ConfigError);
    expect(() => loadConfig({ STORYCAST_MAX_MEDIA_BYTES: value })).toThrow(
      `STORYCAST_MAX_MEDIA_BYTES=${JSON.stringify(value)}: expected an integer >= 1 and <= 1073741824`,
    );
  });
});
