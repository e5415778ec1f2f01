/**
 * The one rule for a text status's background colour, wherever it is checked
 * (the API, the CLI, the Baileys transport). The '#' is required: it is what
 * the API documents, and a colour without one is more likely a typo than hex.
 */

/** How the rule reads in messages and help. */
export const HEX_COLOUR_FORMAT = '#RRGGBB or #AARRGGBB';

const HEX_COLOUR = /^#(?:[0-9a-f]{6}|[0-9a-f]{8})$/i;

export function isHexColour(value: string): boolean {
  return HEX_COLOUR.test(value);
}
