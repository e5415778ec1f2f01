/** The one mapping between the session-state vocabulary and the API's enum. */
import { describe, expect, it } from 'vitest';
import { SessionState } from '../src/gen/storycast/v1/session_service_pb.js';
import { sessionStateFromProto, sessionStateToProto } from '../src/server/session-state.js';
import { isReconnecting, isTerminal, TERMINAL_STATES, type SessionStateName } from '../src/transport/sessions.js';

const NAMES: SessionStateName[] = [
  'connecting',
  'pairing',
  'open',
  'closed',
  'logged-out',
  'replaced',
  'forbidden',
  'banned',
  'failed',
  'unpaired',
];

describe('sessionStateToProto / sessionStateFromProto', () => {
  it('gives every state its own enum value, and the enum value its state back', () => {
    const values = NAMES.map(sessionStateToProto);
    expect(values).not.toContain(SessionState.UNSPECIFIED);
    expect(new Set(values).size).toBe(NAMES.length);
    for (const name of NAMES) expect(sessionStateFromProto(sessionStateToProto(name))).toBe(name);
  });

  it('covers every value of the enum but UNSPECIFIED', () => {
    const enumValues = Object.values(SessionState).filter(
      (v): v is SessionState => typeof v === 'number' && v !== SessionState.UNSPECIFIED,
    );
    expect(enumValues.map(sessionStateFromProto).sort()).toEqual([...NAMES].sort());
  });

  it('spells the states as the API does', () => {
    expect(sessionStateToProto('logged-out')).toBe(SessionState.LOGGED_OUT);
    expect(sessionStateToProto('unpaired')).toBe(SessionState.UNPAIRED);
    expect(sessionStateFromProto(SessionState.BANNED)).toBe('banned');
  });

  it('knows no state for UNSPECIFIED or a value from a newer server', () => {
    expect(sessionStateFromProto(SessionState.UNSPECIFIED)).toBeUndefined();
    expect(sessionStateFromProto(99 as SessionState)).toBeUndefined();
  });
});

describe('what a send makes of a state', () => {
  it('waits for a session on its way back, fails at once on one that stopped, never both', () => {
    expect(NAMES.filter(isReconnecting)).toEqual(['connecting', 'pairing', 'closed']);
    expect(NAMES.filter(isTerminal)).toEqual([...TERMINAL_STATES]);
    expect(NAMES.filter((s) => isReconnecting(s) && isTerminal(s))).toEqual([]);
  });
});
