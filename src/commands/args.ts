/**
 * Arguments declared once per command: each positional word and flag with the zod schema that
 * reads and checks it. The usage line (and so `help`), the parsing and the validation all come
 * from that one declaration, the way hubot's CommandBus declares its commands. Error messages
 * are the command's own (a schema reports a UsageError's words as its issue), so an answer still
 * says what was wrong, that nothing was changed, and what the valid choices are.
 */
import { z } from 'zod';
import type { MessageModel } from '../domain/messages.js';
import { UsageError, type CommandContext, type CommandSpec, type Plan } from './types.js';

/** A schema that reads one word (undefined when the user gave none) into a value. */
export type WordSchema<T> = z.ZodType<T, string | undefined>;

/**
 * A schema from a reader that throws UsageError for bad input: the reader keeps the command's
 * own wording (and its list of valid choices), zod carries it as the issue.
 */
export function word<T>(read: (text: string | undefined) => T): WordSchema<T> {
  return z
    .string()
    .optional()
    .transform((text, ctx) => {
      try {
        return read(text);
      } catch (error) {
        if (!(error instanceof UsageError)) throw error;
        ctx.issues.push({ code: 'custom', message: error.message, input: text });
        return z.NEVER;
      }
    });
}

export interface PositionalDecl<T> {
  /** How usage writes it: `<worker>`, `[<digest>|previous]`. */
  usage: string;
  schema: WordSchema<T>;
}

export interface FlagDecl<T> {
  /** `-n`, `--namespace`; the first is the one usage shows. */
  names: string[];
  /** What its value is called in usage: `namespace` → `-n <namespace>`. */
  value: string;
  schema: WordSchema<T>;
}

export interface ArgsDecl<P, F> {
  /** In order. */
  positionals: { [K in keyof P]: PositionalDecl<P[K]> };
  flags?: { [K in keyof F]: FlagDecl<F[K]> };
  /** The answer when words are left over (the command says how many it takes), given what was read. */
  extra(words: string[], usage: string, read: Partial<NoInfer<P>>): string;
}

export type ParsedArgs<P, F> = P & F;

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** `/rollout restart <workload> [-n <namespace>] [--cluster <name>]`. */
export function usageOf<P, F>(family: string, name: string, decl: ArgsDecl<P, F>): string {
  const positionals = Object.values<PositionalDecl<unknown>>(decl.positionals).map((positional) => positional.usage);
  const flags = Object.values<FlagDecl<unknown>>(decl.flags ?? ({} as Record<string, FlagDecl<unknown>>)).map((flag) => `[${flag.names[0]} <${flag.value}>]`);
  return [`/${family} ${name}`, ...positionals, ...flags].join(' ');
}

function check<T>(schema: WordSchema<T>, text: string | undefined): T {
  const result = schema.safeParse(text);
  if (!result.success) throw new UsageError(result.error.issues[0]?.message ?? `"${clip(text ?? '', 30)}" is not valid`);
  return result.data;
}

/**
 * Reads `words` by the declaration: each positional in order (checked as soon as it is read, so
 * the first wrong word is the one the answer names), flags after them (`-n x`, `--cluster=x`),
 * then the flags' values. Throws UsageError with the command's own words.
 */
export function parseArgs<P, F>(decl: ArgsDecl<P, F>, words: string[], usage: string): ParsedArgs<P, F> {
  const positionals = Object.entries<PositionalDecl<unknown>>(decl.positionals);
  const flags = Object.entries<FlagDecl<unknown>>(decl.flags ?? ({} as Record<string, FlagDecl<unknown>>));
  const values: Record<string, unknown> = {};
  const flagText: Record<string, string> = {};
  const extra: string[] = [];
  let next = 0;
  for (let index = 0; index < words.length; index++) {
    const text = words[index]!;
    // Positionals come first: a word where one is expected is read by it (which may refuse a flag).
    if (next < positionals.length && (next === 0 || flags.length === 0 || !text.startsWith('-'))) {
      const [key, positional] = positionals[next++]!;
      values[key] = check(positional.schema, text);
      continue;
    }
    if (flags.length > 0 && text.startsWith('-')) {
      const [name, inline] = text.includes('=') ? [text.slice(0, text.indexOf('=')), text.slice(text.indexOf('=') + 1)] : [text, undefined];
      const flag = flags.find(([, candidate]) => candidate.names.includes(name));
      if (!flag) throw new UsageError(`Unknown flag "${clip(text, 30)}"; the flags are ${flags.map(([, candidate]) => `${candidate.names[0]} <${candidate.value}>`).join(' and ')}.`);
      const value = inline ?? words[++index];
      if (!value || value.startsWith('-')) throw new UsageError(`${name} needs a value: ${usage}.`);
      flagText[flag[0]] = value;
      continue;
    }
    extra.push(text);
  }
  if (extra.length > 0) throw new UsageError(decl.extra(extra, usage, values as Partial<P>));
  for (const [key, positional] of positionals.slice(next)) values[key] = check(positional.schema, undefined);
  for (const [key, flag] of flags) values[key] = check(flag.schema, flagText[key]);
  return values as ParsedArgs<P, F>;
}

/** A command whose usage, parsing and validation come from `args`; `run` gets the values read. */
export function declareCommand<P, F>(spec: {
  family: string;
  name: string;
  summary: string;
  guarded?: boolean;
  args: ArgsDecl<P, F>;
  run(args: ParsedArgs<P, F>, ctx: CommandContext): Promise<MessageModel | Plan>;
}): CommandSpec {
  const usage = usageOf(spec.family, spec.name, spec.args);
  return {
    family: spec.family,
    name: spec.name,
    usage,
    summary: spec.summary,
    ...(spec.guarded ? { guarded: true } : {}),
    handle: (words, ctx) => spec.run(parseArgs(spec.args, words, usage), ctx),
  };
}
