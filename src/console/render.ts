import { attachmentBytes, type Line, type MessageModel } from '../domain/messages.js';
import { formatTime } from '../domain/duration.js';
import { redact } from '../domain/redact.js';
import { stripTerminalControls } from '../domain/untrusted.js';

const toneMarks: Record<MessageModel['tone'], string> = { critical: '🔴', warning: '🟠', info: 'ℹ️ ', ok: '✅' };

export function lineToText(line: Line, timeZone: string): string {
  return line
    .map((span) => (typeof span === 'string' ? span.replace(/<@(\w+)>/g, '@$1').replace(/<#(\w+)>/g, '#$1').replace(/<!subteam\^(\w+)>/g, '@$1') : 'at' in span ? formatTime(span.at, timeZone) : 'code' in span ? `\`${span.code}\`` : `@${span.user}`))
    .join('');
}

const formatBytes = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${Math.round(bytes / 1024)} KB`);

/** A message as terminal text, indented by `indent`. */
export function messageToText(message: MessageModel, timeZone: string, indent = ''): string {
  const out: string[] = [`${indent}${toneMarks[message.tone]} ${lineToText(message.title, timeZone)}`];
  for (const [label, value] of message.fields ?? []) out.push(`${indent}   ${label}: ${lineToText(value, timeZone)}`);
  for (const line of message.lines ?? []) out.push(`${indent}   ${lineToText(line, timeZone)}`);
  if (message.table) {
    const widths = message.table.columns.map((column, index) => Math.max(column.length, ...message.table!.rows.map((row) => (row[index] ?? '').length)));
    const row = (cells: string[]) => `${indent}   ${cells.map((cell, index) => cell.padEnd(widths[index]!)).join('  ')}`.trimEnd();
    out.push(row(message.table.columns), row(widths.map((width) => '-'.repeat(width))), ...message.table.rows.map(row));
  }
  for (const quoted of message.quote ?? []) out.push(`${indent}   │ ${quoted}`);
  if (message.buttons?.length) out.push(`${indent}   ${message.buttons.map((button) => `[${button.label}]`).join(' ')}`);
  if (message.context) out.push(`${indent}   (${lineToText(message.context, timeZone)})`);
  if (message.attachment?.encoding === 'base64') out.push(`${indent}   ── ${message.attachment.filename} (${formatBytes(attachmentBytes(message.attachment).length)}) ──`);
  else if (message.attachment) out.push(`${indent}   ── ${message.attachment.filename} ──`, ...message.attachment.content.trimEnd().split('\n').map((line) => `${indent}   ${line}`));
  // Pod logs and endpoint bodies reach the terminal here: no escape sequence of theirs may drive it.
  return stripTerminalControls(redact(out.join('\n')));
}
