/** commands/args.ts: one declaration gives the usage line, the parsing and the checks, with the command's own words. */
import { describe, expect, it } from 'vitest';
import { declareCommand, parseArgs, usageOf, word, type ArgsDecl } from '../src/commands/args.js';
import { UsageError } from '../src/commands/types.js';

const fruits = ['apple', 'pear'];
const decl: ArgsDecl<{ fruit: string; count: number | undefined }, { basket: string | undefined }> = {
  positionals: {
    fruit: {
      usage: '<fruit>',
      schema: word((text) => {
        if (!text) throw new UsageError(`Name a fruit: ${fruits.join(', ')}.`);
        if (!fruits.includes(text)) throw new UsageError(`Unknown fruit "${text}". Fruits: ${fruits.join(', ')}.`);
        return text;
      }),
    },
    count: { usage: '[<count>]', schema: word((text) => (text === undefined ? undefined : Number(text))) },
  },
  flags: { basket: { names: ['-b', '--basket'], value: 'basket', schema: word((text) => text) } },
  extra: (words) => `One fruit at a time; "${words[0]}" is extra.`,
};

describe('declared arguments', () => {
  it('writes the usage line from the declaration', () => {
    expect(usageOf('shop', 'buy', decl)).toBe('/shop buy <fruit> [<count>] [-b <basket>]');
  });

  it('reads positionals in order and flags after them, in both spellings', () => {
    expect(parseArgs(decl, ['pear', '3', '--basket=left'], 'u')).toEqual({ fruit: 'pear', count: 3, basket: 'left' });
    expect(parseArgs(decl, ['apple', '-b', 'right'], 'u')).toEqual({ fruit: 'apple', count: undefined, basket: 'right' });
  });

  it('answers with the command own words: the first wrong word, unknown flags, missing values, extra words', () => {
    expect(() => parseArgs(decl, [], 'u')).toThrow('Name a fruit: apple, pear.');
    expect(() => parseArgs(decl, ['kiwi', '--nope'], 'u')).toThrow('Unknown fruit "kiwi". Fruits: apple, pear.');
    expect(() => parseArgs(decl, ['apple', '--nope'], 'u')).toThrow('Unknown flag "--nope"; the flags are -b <basket>.');
    expect(() => parseArgs(decl, ['apple', '-b'], '/shop buy …')).toThrow('-b needs a value: /shop buy ….');
    expect(() => parseArgs(decl, ['apple', '2', 'pear'], 'u')).toThrow('One fruit at a time; "pear" is extra.');
  });

  it('makes a command whose handler gets the values read', async () => {
    const spec = declareCommand({ family: 'shop', name: 'buy', summary: 'buy fruit', args: decl, run: async (args) => ({ tone: 'ok', title: [`${args.count ?? 1} ${args.fruit}`] }) });
    expect(spec.usage).toBe('/shop buy <fruit> [<count>] [-b <basket>]');
    expect(await spec.handle(['pear', '2'], { user: 'U', channel: 'C', face: 'console' }, 'pear 2')).toEqual({ tone: 'ok', title: ['2 pear'] });
  });
});
