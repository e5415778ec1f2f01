import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/cli/usage-error.js';
import { ConfigError } from '../src/config.js';
import { StartupError } from '../src/runtime.js';
import { StrategyLoadError } from '../src/strategy-registry.js';
import { describeStartupError } from '../src/util/startup-error.js';

function systemError(code: string, syscall: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code, syscall });
}

describe('describeStartupError', () => {
  it.each([
    new ConfigError(['SMART_SEND_MAX_ATTEMPTS="three": expected an integer >= 1 and <= 100']),
    new StrategyLoadError('STORYCAST_STRATEGY_MODULES: cannot load "./x.js": not found'),
    new StartupError('STORYCAST_SIM_PROFILE="nope": no such profile'),
    new UsageError('--server: "ht tp://" is not a URL'),
  ])('gives a problem the person can fix as one line: %s', (error) => {
    const text = describeStartupError('storycast', error);
    expect(text).toBe(`storycast: ${error.message}`);
    expect(text).not.toContain('    at ');
  });

  it('says when the port cannot be listened on', () => {
    const error = systemError('EADDRINUSE', 'listen', 'listen EADDRINUSE: address already in use 127.0.0.1:50051');
    expect(describeStartupError('storycast', error)).toBe(
      'storycast: cannot listen: listen EADDRINUSE: address already in use 127.0.0.1:50051',
    );
  });

  it('gives other system errors as their message: they are about the machine', () => {
    const error = systemError('EACCES', 'open', "EACCES: permission denied, open './cert.pem'");
    expect(describeStartupError('storycast', error)).toBe("storycast: EACCES: permission denied, open './cert.pem'");
  });

  it('shows the stack of anything else: that is a bug to report', () => {
    const error = new TypeError('cannot read properties of undefined');
    const text = describeStartupError('storycast send', error);
    expect(text.startsWith('storycast send: unexpected error: TypeError: cannot read properties of undefined')).toBe(true);
    expect(text).toContain('    at ');
  });

  it('gives every error as one line for a tool whose errors all come from its inputs', () => {
    expect(describeStartupError('bench', new Error('--case "nope": no such case'), { alwaysBrief: true })).toBe(
      'bench: --case "nope": no such case',
    );
  });

  it('prints a thrown non-Error as it is', () => {
    expect(describeStartupError('pair', 'gave up')).toBe('pair: gave up');
  });
});
