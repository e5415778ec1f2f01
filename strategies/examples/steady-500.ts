/**
 * An example third-party strategy: load it with
 * STORYCAST_STRATEGY_MODULES=./strategies/examples/steady-500.ts
 * A strategy module imports only the SDK and default-exports defineStrategy(...).
 */
import { defineStrategy, speedOf } from '../sdk.js';

export default defineStrategy<{ size: number }>({
  name: 'steady-500',
  description: 'Holds 500; drops to 250 after a slow or failed batch, and stays there.',
  start: () => ({ state: { size: 500 }, size: 500, reason: 'start at 500' }),
  next: (state, outcome, ctx) =>
    !outcome.ok || speedOf(outcome.durationMs, ctx.config) === 'SLOW'
      ? { state: { size: 250 }, size: 250, reason: `trouble at ${outcome.size}: 250 from now on` }
      : { state, size: state.size, reason: `holding ${state.size}` },
});
