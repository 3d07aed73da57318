/**
 * Reads TypeScript source as text for the layout test: which modules a file imports (static,
 * `export … from`, dynamic `import('…')`, type-only alike) and where it writes `any` as a type.
 * A small lexer blanks comments and the insides of strings, templates and regex literals first,
 * so an import or an `any` written in a comment or a message is never counted. (typescript 7
 * ships no JavaScript API to parse with, and this needs no more than tokens.)
 */

export interface ImportSite {
  specifier: string;
  /** 1-based line of the specifier. */
  line: number;
  dynamic: boolean;
  /**
   * Erased from the JavaScript: `import type`, `export type`, `import { type A, type B }` (every
   * name marked, and `verbatimModuleSyntax` off), `typeof import('…')`. It still ties the layers
   * together, but loads nothing at run time.
   */
  typeOnly: boolean;
}

export interface ScannedSource {
  /** The text with comments blanked (same length, newlines kept). */
  code: string;
  /** `code` with the insides of strings, templates and regex literals blanked too. */
  skeleton: string;
}

const REGEX_AFTER_CHAR = new Set([...'(,=:[!&|?{};+-*%<>~^']);
const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'yield', 'await']);

export function scanSource(text: string): ScannedSource {
  const code = [...text];
  const skeleton = [...text];
  const blank = (chars: string[], from: number, to: number) => {
    for (let k = from; k < to && k < chars.length; k++) if (chars[k] !== '\n') chars[k] = ' ';
  };
  // Brace depth at which each open `${ … }` substitution resumes its template.
  const substitutions: number[] = [];
  let depth = 0;

  /** Scans template text from `start`; returns where code resumes. */
  const template = (start: number): number => {
    let j = start;
    while (j < text.length) {
      if (text[j] === '\\') j += 2;
      else if (text[j] === '`') {
        blank(skeleton, start, j);
        return j + 1;
      } else if (text[j] === '$' && text[j + 1] === '{') {
        blank(skeleton, start, j);
        substitutions.push(depth);
        return j + 2;
      } else j++;
    }
    blank(skeleton, start, j);
    return j;
  };

  /** Whether a `/` at `at` starts a regex literal: judged by the code before it. */
  const regexAllowed = (at: number): boolean => {
    let k = at - 1;
    while (k >= 0 && /\s/.test(code[k]!)) k--;
    if (k < 0) return true;
    if (REGEX_AFTER_CHAR.has(code[k]!)) return true;
    let w = k;
    while (w >= 0 && /[\w$]/.test(code[w]!)) w--;
    return REGEX_AFTER_WORD.has(code.slice(w + 1, k + 1).join(''));
  };

  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      const stop = end < 0 ? text.length : end;
      blank(code, i, stop);
      blank(skeleton, i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      blank(code, i, stop);
      blank(skeleton, i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      blank(skeleton, i + 1, j);
      i = j + 1;
    } else if (c === '`') {
      i = template(i + 1);
    } else if (c === '}' && substitutions.length > 0 && depth === substitutions[substitutions.length - 1]) {
      substitutions.pop();
      i = template(i + 1);
    } else if (c === '/' && regexAllowed(i)) {
      let j = i + 1;
      let inClass = false;
      while (j < text.length && text[j] !== '\n' && (inClass || text[j] !== '/')) {
        if (text[j] === '\\') j++;
        else if (text[j] === '[') inClass = true;
        else if (text[j] === ']') inClass = false;
        j++;
      }
      if (text[j] === '/') {
        blank(skeleton, i + 1, j);
        i = j + 1;
      } else i++; // not a regex after all: a division at a line end
    } else {
      if (c === '{') depth++;
      else if (c === '}') depth--;
      i++;
    }
  }
  return { code: code.join(''), skeleton: skeleton.join('') };
}

const lineAt = (text: string, index: number) => text.slice(0, index).split('\n').length;

/** The literal starting with the quote at `quoteAt` (its text, read from `code`). */
function literalAt(code: string, quoteAt: number): string {
  const quote = code[quoteAt]!;
  const end = code.indexOf(quote, quoteAt + 1);
  return code.slice(quoteAt + 1, end < 0 ? undefined : end);
}

/** `import type … from '`, or `import { type A, type B } from '` with every name marked. */
function typeOnlyClause(statement: string): boolean {
  if (/^(?:import|export)\s+type\b/.test(statement)) return true;
  const names = /^(?:import|export)\s*\{([^}]*)\}\s*from\s*['"]$/.exec(statement)?.[1];
  if (names === undefined) return false;
  const entries = names.split(',').map((entry) => entry.trim()).filter(Boolean);
  return entries.length > 0 && entries.every((entry) => /^type\s/.test(entry));
}

/** Every module `text` imports or re-exports, statically or with `import('…')`. */
export function importsOf(text: string): ImportSite[] {
  const { code, skeleton } = scanSource(text);
  const sites: ImportSite[] = [];
  // `import x from '…'`, `import type { … } from '…'`, `import '…'`, `export * from '…'`, `export { … } from '…'`.
  const statics = /(?<![\w$.])(?:import|export)(?:\s+type)?\s*(?:[\w$*{}\s,]*?\bfrom\s*)?(['"])/g;
  for (const match of skeleton.matchAll(statics)) {
    const quoteAt = match.index + match[0].length - 1;
    sites.push({ specifier: literalAt(code, quoteAt), line: lineAt(text, quoteAt), dynamic: false, typeOnly: typeOnlyClause(match[0]) });
  }
  // `import('…')`, `await import("…")`, `typeof import('…')` (a template without substitutions too).
  const dynamics = /(?<![\w$.])import\s*\(\s*(['"`])/g;
  for (const match of skeleton.matchAll(dynamics)) {
    const quoteAt = match.index + match[0].length - 1;
    const typeOnly = /\btypeof\s*$/.test(skeleton.slice(Math.max(0, match.index - 20), match.index));
    sites.push({ specifier: literalAt(code, quoteAt), line: lineAt(text, quoteAt), dynamic: true, typeOnly });
  }
  return sites.sort((a, b) => a.line - b.line);
}

/** Lines (1-based) where `any` is written as a type: `: any`, `as any`, `<any>`, `any[]`, `<any, …>`, `…, any>`, `| any`, `type X = any`, `<T = any>`. */
export function anyTypesIn(text: string): Array<{ line: number; text: string }> {
  const { skeleton } = scanSource(text);
  const lines = text.split('\n');
  const anyType = /:\s*any\b|\bas\s+any\b|<\s*any\s*[,>]|,\s*any\s*>|\bany\s*\[\s*\]|\|\s*any\b|\bany\s*\||=\s*any\s*(?:[;,>)]|$)/;
  return skeleton.split('\n').flatMap((line, index) => (anyType.test(line) ? [{ line: index + 1, text: lines[index]!.trim() }] : []));
}
