/**
 * The layout rules of DESIGN.md ("Layout": who may import whom), checked on the imports of every
 * file in src/ — static, `export … from`, dynamic `import('…')`, type-only alike: a type import
 * ties two layers together as much as a value import does.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { anyTypesIn, importsOf, scanSource } from './support/source-scan.js';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');
const MAX_LINES = 600;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** `src/`-relative POSIX paths: `incidents/engine.ts`. */
const files = sourceFiles(SRC).map((path) => relative(SRC, path).split('\\').join('/')).sort();
const texts = new Map(files.map((file) => [file, readFileSync(join(SRC, file), 'utf8')]));

interface Edge {
  from: string;
  to: string;
  line: number;
}

/** `./x.js` from `incidents/engine.ts` → `incidents/x.ts`; packages and `node:` give undefined. */
function resolveSpecifier(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return undefined;
  const target = posix.normalize(posix.join(posix.dirname(from), specifier));
  const candidates = [target.replace(/\.js$/, '.ts'), target, `${target}.ts`, `${target}/index.ts`];
  return candidates.find((candidate) => texts.has(candidate)) ?? target;
}

const edges: Edge[] = files.flatMap((from) =>
  importsOf(texts.get(from)!).flatMap((site) => {
    const to = resolveSpecifier(from, site.specifier);
    return to === undefined ? [] : [{ from, to, line: site.line }];
  }),
);

/** Imports of packages (`node:fs`, `undici`, `@slack/bolt`…), with whether only types are imported. */
interface PackageImport {
  from: string;
  specifier: string;
  line: number;
  typeOnly: boolean;
}

const packageImports: PackageImport[] = files.flatMap((from) =>
  importsOf(texts.get(from)!).flatMap((site) => (site.specifier.startsWith('.') ? [] : [{ from, specifier: site.specifier, line: site.line, typeOnly: site.typeOnly }])),
);

/** `node:fs/promises` and `fs` are `fs`; `@slack/bolt/x` is `@slack/bolt`; `undici/types` is `undici`. */
function packageName(specifier: string): string {
  const bare = specifier.replace(/^node:/, '');
  const parts = bare.split('/');
  return bare.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/**
 * Packages that do I/O (files, sockets, the database, Slack, the apiserver) or load native code:
 * `incidents/` and `kube/` decide, they never do I/O (DESIGN.md "Layout").
 */
const ioPackage = (name: string) => ['fs', 'http', 'https', 'net', 'http2', 'tls', 'dgram', 'child_process', 'worker_threads', 'undici', 'pg', 'better-sqlite3', '@kubernetes/client-node', '@resvg/resvg-js'].includes(name) || name.startsWith('@slack/');

const showPackage = (site: PackageImport) => `src/${site.from}:${site.line} imports ${site.specifier}${site.typeOnly ? ' (types only)' : ''}`;

const show = (edge: Edge) => `src/${edge.from}:${edge.line} imports src/${edge.to}`;
const inDir = (dir: string) => (file: string) => file.startsWith(`${dir}/`);
const isFile = (name: string) => (file: string) => file === name;
const anyOf = (...tests: Array<(file: string) => boolean>) => (file: string) => tests.some((test) => test(file));

const graph = new Map<string, Set<string>>(files.map((file) => [file, new Set()]));
for (const edge of edges) if (graph.has(edge.to)) graph.get(edge.from)!.add(edge.to);

/** Strongly connected components with more than one file (or a file importing itself): each holds a cycle. */
function importCycles(): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (file: string) => {
    index.set(file, counter);
    low.set(file, counter++);
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file)!) {
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(file, Math.min(low.get(file)!, index.get(next)!));
    }
    if (low.get(file) === index.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== file);
      if (component.length > 1 || graph.get(file)!.has(file)) components.push(component.sort());
    }
  };
  for (const file of files) if (!index.has(file)) visit(file);
  return components;
}

/** One shortest cycle through the first member of a component, by breadth-first search: `a → b → a`. */
function shortestCycle(component: string[]): string[] {
  const members = new Set(component);
  const start = component[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const next of graph.get(file)!) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [file];
        while (path[0] !== start) path.unshift(cameFrom.get(path[0]!)!);
        return [...path, start];
      }
      if (!cameFrom.has(next)) {
        cameFrom.set(next, file);
        queue.push(next);
      }
    }
  }
  return component;
}

describe('reading imports', () => {
  it('finds static, re-exported, type-only and dynamic imports, and nothing in comments or strings', () => {
    const sample = [
      "import { a } from './a.js';",
      'import type {',
      '  B,',
      "} from '../b.js';",
      "import './side-effect.js';",
      "export * from './c.js';",
      "export { d } from \"./d.js\";",
      "// import { e } from './e.js';",
      "/* import('./f.js') */",
      "const message = \"import { g } from './g.js'\";",
      "const re = /import\\('.\\/h.js'\\)/;",
      "const t = `import('./i.js') ${await import('./j.js')}`;",
      'export type K = typeof import(\'./k.js\');',
      "const half = total / 2; const other = import('./l.js');",
    ].join('\n');
    expect(importsOf(sample).map((site) => `${site.line} ${site.specifier}${site.dynamic ? ' dynamic' : ''}${site.typeOnly ? ' type' : ''}`)).toEqual([
      '1 ./a.js',
      '4 ../b.js type',
      '5 ./side-effect.js',
      '6 ./c.js',
      '7 ./d.js',
      '12 ./j.js dynamic',
      '13 ./k.js dynamic type',
      '14 ./l.js dynamic',
    ]);
  });

  it('tells type-only imports (erased from the JavaScript) from imports that load the module', () => {
    const sample = [
      "import type { V1Pod } from '@kubernetes/client-node';",
      "import { type A, type B } from 'pkg-a';",
      "import { type C, D } from 'pkg-b';",
      "import E, { type F } from 'pkg-c';",
      "export type { G } from 'pkg-d';",
      "import * as H from 'pkg-e';",
      "type I = typeof import('pkg-f');",
      "const j = await import('pkg-g');",
    ].join('\n');
    expect(importsOf(sample).map((site) => `${site.specifier} ${site.typeOnly ? 'types' : 'loads'}`)).toEqual([
      '@kubernetes/client-node types',
      'pkg-a types',
      'pkg-b loads',
      'pkg-c loads',
      'pkg-d types',
      'pkg-e loads',
      'pkg-f types',
      'pkg-g loads',
    ]);
  });

  it('keeps a line count: comments and strings are blanked, not removed', () => {
    const sample = "const a = 'x'; /* one\ntwo */ const b = `y\n${a}`;\n";
    const { code, skeleton } = scanSource(sample);
    expect(code.length).toBe(sample.length);
    expect(skeleton.split('\n').length).toBe(sample.split('\n').length);
    expect(code).toContain("'x'");
    expect(skeleton).not.toContain('x');
  });

  it('finds `any` written as a type, not the word in comments and messages', () => {
    const sample = [
      'const a: any = 1;',
      'const b = c as any;',
      'const d = new Map<any, string>();',
      'const e: any[] = [];',
      "const f = 'matches any channel: any';",
      '// any: not code',
      'const g: unknown = anything;',
      'type Json = any;',
      'function h<T = any>(x: T | any) {}',
      'const many = [] as unknown[];',
    ].join('\n');
    expect(anyTypesIn(sample).map((hit) => hit.line)).toEqual([1, 2, 3, 4, 8, 9]);
  });

  it('reads the imports of src/ (so the rules below have something to check)', () => {
    expect(files.length).toBeGreaterThan(40);
    expect(edges.some((edge) => edge.from === 'incidents/engine.ts' && edge.to === 'store/index.ts')).toBe(true);
    expect(edges.some((edge) => edge.from === 'main.ts' && edge.to === 'sandbox/index.ts')).toBe(true); // a dynamic import
    expect(packageImports.some((site) => site.from === 'kube/pods.ts' && site.specifier === '@kubernetes/client-node' && site.typeOnly)).toBe(true);
    expect(packageImports.some((site) => site.from === 'report/chart-png.ts' && site.specifier === '@resvg/resvg-js' && !site.typeOnly)).toBe(true);
    const unresolved = edges.filter((edge) => !texts.has(edge.to)).map(show);
    expect(unresolved, `imports of files that do not exist:\n${unresolved.join('\n')}`).toEqual([]);
  });
});

describe('layout (DESIGN.md "Layout")', () => {
  it('has no import cycle in src/', () => {
    const cycles = importCycles().map((component) => {
      const members = new Set(component);
      const inside = edges.filter((edge) => members.has(edge.from) && members.has(edge.to)).map((edge) => `  ${show(edge)}`);
      return [`${component.length} files import each other, e.g. ${shortestCycle(component).map((file) => `src/${file}`).join(' → ')}; the imports among them:`, ...inside].join('\n');
    });
    expect(cycles, `import cycles (type-only imports count too; break each by moving the shared piece down a layer):\n${cycles.join('\n')}`).toEqual([]);
  });

  it('has nothing import src/main.ts but src/cli.ts, and nothing import src/cli.ts', () => {
    const bad = edges.filter((edge) => (edge.to === 'main.ts' && edge.from !== 'cli.ts') || edge.to === 'cli.ts').map(show);
    expect(bad, `only cli.ts may import main.ts, and nothing imports cli.ts:\n${bad.join('\n')}`).toEqual([]);
  });

  const rules: Array<{ rule: string; from: (file: string) => boolean; forbidden: (file: string) => boolean }> = [
    { rule: 'domain/ imports nothing of ours but domain/', from: inDir('domain'), forbidden: (file) => !inDir('domain')(file) },
    { rule: 'watchers/ never import slack/, console/ or commands/', from: inDir('watchers'), forbidden: anyOf(inDir('slack'), inDir('console'), inDir('commands')) },
    {
      rule: 'incidents/ import no clients/, slack/, console/, delivery/, commands/, watchers/, web/, ha/, report/ or runtime.ts (they decide over store/ and do no I/O)',
      from: inDir('incidents'),
      forbidden: anyOf(inDir('clients'), inDir('slack'), inDir('console'), inDir('delivery'), inDir('commands'), inDir('watchers'), inDir('web'), inDir('ha'), inDir('report'), isFile('runtime.ts')),
    },
    { rule: 'commands/ never import slack/, console/ or main.ts (they take the interfaces in runtime.ts)', from: inDir('commands'), forbidden: anyOf(inDir('slack'), inDir('console'), isFile('main.ts')) },
    {
      rule: 'store/ imports none of the parts above it: incidents/, commands/, watchers/, slack/, console/, delivery/, clients/, ha/, web/, kube/, report/, runtime.ts, main.ts, cli.ts',
      from: inDir('store'),
      forbidden: anyOf(
        inDir('incidents'),
        inDir('commands'),
        inDir('watchers'),
        inDir('slack'),
        inDir('console'),
        inDir('delivery'),
        inDir('clients'),
        inDir('ha'),
        inDir('web'),
        inDir('kube'),
        inDir('report'),
        isFile('runtime.ts'),
        isFile('main.ts'),
        isFile('cli.ts'),
      ),
    },
    // report/ turns the incidents' chart model into a PNG with a native renderer (resvg) and
    // bundled fonts. It stays a folder of its own, outside incidents/, so that incidents/ loads
    // no native code and its tests need no renderer; it is a leaf that only the two places that
    // hand out files (commands/ for the thread, web/ for the status page) use.
    { rule: 'report/ imports only domain/, incidents/ and log.ts (redaction)', from: inDir('report'), forbidden: (file) => !inDir('domain')(file) && !inDir('incidents')(file) && !inDir('report')(file) && file !== 'log.ts' },
    { rule: 'only commands/ and web/ import report/', from: (file) => !inDir('report')(file) && !inDir('commands')(file) && !inDir('web')(file), forbidden: inDir('report') },
    { rule: 'clients/ import neither store/ nor incidents/', from: inDir('clients'), forbidden: anyOf(inDir('store'), inDir('incidents')) },
    { rule: 'only cli.ts and main.ts import sandbox/', from: (file) => !inDir('sandbox')(file) && file !== 'cli.ts' && file !== 'main.ts', forbidden: inDir('sandbox') },
  ];

  for (const { rule, from, forbidden } of rules) {
    it(rule, () => {
      const bad = edges.filter((edge) => from(edge.from) && forbidden(edge.to)).map(show);
      expect(bad, `${rule}; these imports break it:\n${bad.join('\n')}`).toEqual([]);
    });
  }

  it('incidents/ use no I/O package (files, sockets, database, Slack, apiserver, native renderer), not even for types', () => {
    const bad = packageImports.filter((site) => inDir('incidents')(site.from) && ioPackage(packageName(site.specifier))).map(showPackage);
    expect(bad, `incidents/ decide and do no I/O; these imports break it:\n${bad.join('\n')}`).toEqual([]);
  });

  it('kube/ uses no I/O package; of @kubernetes/client-node only the model types', () => {
    const bad = packageImports
      .filter((site) => inDir('kube')(site.from) && ioPackage(packageName(site.specifier)) && !(packageName(site.specifier) === '@kubernetes/client-node' && site.typeOnly))
      .map(showPackage);
    expect(bad, `kube/ is pure Kubernetes judgement; these imports break it:\n${bad.join('\n')}`).toEqual([]);
  });

  it(`has no file in src/ over ${MAX_LINES} lines`, () => {
    const long = files
      .map((file) => ({ file, lines: texts.get(file)!.split('\n').length - (texts.get(file)!.endsWith('\n') ? 1 : 0) }))
      .filter(({ lines }) => lines > MAX_LINES)
      .map(({ file, lines }) => `src/${file}: ${lines} lines`);
    expect(long, `files over ${MAX_LINES} lines (split them by concern):\n${long.join('\n')}`).toEqual([]);
  });

  it('has no `any` type in src/kube/, src/watchers/, src/commands/', () => {
    const hits = files
      .filter(anyOf(inDir('kube'), inDir('watchers'), inDir('commands')))
      .flatMap((file) => anyTypesIn(texts.get(file)!).map((hit) => `src/${file}:${hit.line}: ${hit.text}`));
    expect(hits, `\`any\` written as a type (type it, or take \`unknown\` and narrow):\n${hits.join('\n')}`).toEqual([]);
  });

  it('finds src/ where the rules expect it', () => {
    // A rule over a folder that was renamed would pass on nothing; the folders the rules name exist.
    for (const dir of ['domain', 'watchers', 'incidents', 'commands', 'store', 'clients', 'sandbox', 'kube', 'report', 'web', 'ha']) expect(existsSync(join(SRC, dir)), `src/${dir}/`).toBe(true);
  });
});
