import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../src/cli/args.js';
import { StorySchema } from '../src/gen/storycast/v1/story_service_pb.js';
import { storyFromProto } from '../src/server/translate.js';
import { isHexColour } from '../src/util/hex-colour.js';

const GOOD = ['#315575', '#ABCDEF', '#abcdef', '#80315575', '#FFffFFff'];
const BAD = ['315575', '80315575', 'blue', '#fff', '#3155757', '#31557g', ' #315575', '#315575 ', '#'];

describe('isHexColour', () => {
  it.each(GOOD)('takes %s', (colour) => {
    expect(isHexColour(colour)).toBe(true);
  });

  it.each([...BAD, ''])('refuses %j', (colour) => {
    expect(isHexColour(colour)).toBe(false);
  });
});

describe('the API and the CLI apply that one rule', () => {
  const api = (backgroundColor: string) => () =>
    storyFromProto(create(StorySchema, { content: { case: 'text', value: { text: 'hi', backgroundColor } } }));
  const cli = (colour: string) => () => parseCliArgs(['--recipients', '1', '--background-color', colour], {});

  it.each(GOOD)('both take %s', (colour) => {
    expect(api(colour)).not.toThrow();
    expect(cli(colour)).not.toThrow();
  });

  it.each(BAD)('both refuse %j, naming the format', (colour) => {
    expect(api(colour)).toThrow('#RRGGBB or #AARRGGBB');
    expect(cli(colour)).toThrow('#RRGGBB or #AARRGGBB');
  });
});
