/** SessionService requests, as create() inits. */
import fc from 'fast-check';
import { garbageToken, int32, longString, nastyString, sessionId } from './values.js';

const phoneNumber = fc.oneof(
  { arbitrary: fc.constant(''), weight: 6 },
  {
    arbitrary: fc.constantFrom('+1 555 123 4567', '15551234567', '+1234', '+1234567890123456', '(555) 123.4567', '+١٥٥٥١٢٣٤٥٦٧'),
    weight: 2,
  },
  { arbitrary: nastyString, weight: 2 },
  { arbitrary: longString, weight: 1 },
);

const sessionOnly = fc.record({ sessionId });

export const sessionRequests = {
  ConnectSession: fc.record({ sessionId, phoneNumber }),
  GetSession: sessionOnly,
  ListSessions: fc.constant({}),
  LogoutSession: sessionOnly,
  ListContacts: fc.record({ sessionId, pageSize: int32, pageToken: garbageToken }),
} as const;
