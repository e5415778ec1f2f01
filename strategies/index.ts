/** The SDK and the built-in strategies, for strategy authors and the server. */
export * from './sdk.js';
import adaptive from './adaptive.js';
import aggressive from './aggressive.js';
import conservative from './conservative.js';
import type { DefinedStrategy } from './sdk.js';

export { adaptive, aggressive, conservative };

/** Built-ins in the order they are listed to users; the first is the default. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const builtinStrategies: readonly DefinedStrategy<any>[] = [adaptive, conservative, aggressive];
