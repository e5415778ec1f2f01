/** The SDK and the built-in strategies, for strategy authors and the server. */
export * from './sdk.js';
import adaptive from './adaptive.js';
import bracket from './bracket.js';
import aggressive from './aggressive.js';
import conservative from './conservative.js';
import type { AnyStrategy } from './sdk.js';

export { adaptive, aggressive, bracket, conservative };
/** bracket with other tuning (and a name of its own), for a strategy module or the lab. */
export { bracketDefaults, createBracket, type BracketOptions } from './bracket.js';

/** Built-ins in the order they are listed to users; the first is the default. */
export const builtinStrategies: readonly AnyStrategy[] = [adaptive, conservative, aggressive, bracket];
