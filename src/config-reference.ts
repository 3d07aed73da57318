/** The config reference as a Markdown table, generated from the JSON Schema of the config. */

interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  enum?: unknown[];
  default?: unknown;
  required?: string[];
}

function typeOf(node: SchemaNode): string {
  if (node.enum) return node.enum.map((value) => JSON.stringify(value)).join(' \\| ');
  if (node.anyOf) return node.anyOf.map(typeOf).join(' or ');
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'values'}`;
  if (node.type === 'object' && node.properties) return `{ ${Object.keys(node.properties).join(', ')} }`;
  if (node.type === 'object') return 'map';
  return Array.isArray(node.type) ? node.type.join(' \\| ') : (node.type ?? 'any');
}

function rows(node: SchemaNode, path: string, out: string[], required: boolean): void {
  const isLeafObject = node.type === 'object' && node.properties;
  if (path) {
    const fallback = node.default !== undefined && !(typeof node.default === 'object' && node.default !== null && Object.keys(node.default).length === 0) ? `\`${JSON.stringify(node.default)}\`` : '';
    out.push(`| \`${path}\` | ${isLeafObject ? 'section' : typeOf(node)} | ${fallback} | ${required ? 'yes' : ''} |`);
  }
  if (node.properties) for (const [key, child] of Object.entries(node.properties)) rows(child, path ? `${path}.${key}` : key, out, node.required?.includes(key) === true && child.default === undefined);
  if (node.type === 'array' && node.items?.properties) rows({ ...node.items, type: 'object' }, `${path}[]`, out, false);
  if (typeof node.additionalProperties === 'object' && node.additionalProperties.properties) rows(node.additionalProperties, `${path}.<name>`, out, false);
  if (node.anyOf) for (const option of node.anyOf) if (option.properties) for (const [key, child] of Object.entries(option.properties)) rows(child, `${path}.${key}`, out, false);
}

export function configReference(schema: unknown): string {
  const out = ['| key | type | default | required |', '|---|---|---|---|'];
  rows(schema as SchemaNode, '', out, false);
  // Array items are listed as `x[]` sections; their own row repeats the list's, so drop it.
  return `${out.filter((line, index) => index < 2 || !/^\| `[^`]+\[\]` \| section/.test(line)).join('\n')}\n`;
}
