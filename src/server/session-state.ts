/**
 * The one mapping between storycast's session states (src/transport/sessions.ts)
 * and the API's enum: the server answers with it, the CLI reads answers with it.
 */
import { SessionState } from '../gen/storycast/v1/session_service_pb.js';
import type { SessionStateName } from '../transport/sessions.js';

// A Record, so a state added to the vocabulary does not compile until it has an enum value.
const TO_PROTO: Readonly<Record<SessionStateName, SessionState>> = {
  connecting: SessionState.CONNECTING,
  pairing: SessionState.PAIRING,
  open: SessionState.OPEN,
  closed: SessionState.CLOSED,
  'logged-out': SessionState.LOGGED_OUT,
  replaced: SessionState.REPLACED,
  forbidden: SessionState.FORBIDDEN,
  banned: SessionState.BANNED,
  failed: SessionState.FAILED,
  unpaired: SessionState.UNPAIRED,
};

const FROM_PROTO: ReadonlyMap<SessionState, SessionStateName> = new Map(
  (Object.entries(TO_PROTO) as [SessionStateName, SessionState][]).map(([name, value]) => [value, name]),
);

export function sessionStateToProto(state: SessionStateName): SessionState {
  return TO_PROTO[state];
}

/** Undefined for UNSPECIFIED and for values a newer server may send that this build does not know. */
export function sessionStateFromProto(state: SessionState): SessionStateName | undefined {
  return FROM_PROTO.get(state);
}
