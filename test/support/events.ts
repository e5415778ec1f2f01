/** Engine events for tests that observe sends without running one. */
import type { PlannedEvent } from '../../src/engine/events.js';

/** A small send's plan, with whatever the test cares about overridden. */
export function plannedEvent(overrides: Partial<PlannedEvent> = {}): PlannedEvent {
  return {
    type: 'planned',
    sendId: 'send-1',
    sessionId: 'session-1',
    strategy: 'adaptive',
    mode: 'smart',
    total: 10,
    invalid: [],
    duplicates: 0,
    usedHistory: false,
    provenSize: 0,
    firstBatchSize: 5,
    reason: '',
    ...overrides,
  };
}
