import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/util/redact-url.js';

describe('redactUrl', () => {
  it('hides the user and password of a store URL', () => {
    expect(redactUrl('redis://default:s3cret@redis.internal:6379/0')).toBe('redis://***@redis.internal:6379/0');
    expect(redactUrl('rediss://:s3cret@cache:6380')).toBe('rediss://***@cache:6380');
  });

  it('leaves URLs without credentials as they are', () => {
    for (const url of ['sqlite://./data/storycast.sqlite', 'redis://localhost:6379', 'memory://']) expect(redactUrl(url)).toBe(url);
  });

  it('does not mistake an @ in the path for credentials', () => {
    expect(redactUrl('sqlite://./data/a@b.sqlite')).toBe('sqlite://./data/a@b.sqlite');
  });
});
