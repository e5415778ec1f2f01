/** The SDK and the built-in strategies, for strategy authors and the server. */
export * from './sdk.js';
import adaptive from './adaptive.js';
import bracket from './bracket.js';
import aggressive from './aggressive.js';
import conservative from './conservative.js';
import type { AnyStrategy } from './sdk.js';

export { adaptive, aggressive, bracket, conservative };

/** Built-ins in the order they are listed to users; the first is the default. */
export const builtinStrategies: readonly AnyStrategy[] = [adaptive, conservative, aggressive, bracket];
