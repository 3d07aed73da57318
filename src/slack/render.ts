import type { Button, Line, MessageModel } from '../domain/messages.js';
import { messageToPlainText } from '../domain/messages.js';
import { redact, redactAndClip } from '../domain/redact.js';

/** Slack's own date formatting, so each reader sees their time zone. */
function slackDate(at: number): string {
  const seconds = Math.floor(at / 1000);
  return `<!date^${seconds}^{date_short_pretty} {time_secs}|${new Date(at).toISOString().replace('.000Z', 'Z')}>`;
}

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(text: string): string {
  // Every piece of text passes here on its way to Slack: the last place a token can be caught.
  return redact(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** User text escaped, but our own mentions (`<@U…>`, `<#C…>`, `<!subteam^S…>`) kept. */
function mrkdwnText(text: string): string {
  return escapeMrkdwn(text).replace(/&lt;(@[UW][A-Z0-9]+|#[CG][A-Z0-9]+|!subteam\^S[A-Z0-9]+)&gt;/g, '<$1>');
}

export function lineToMrkdwn(line: Line): string {
  return line
    .map((span) => (typeof span === 'string' ? mrkdwnText(span) : 'at' in span ? slackDate(span.at) : 'code' in span ? `\`${escapeMrkdwn(span.code)}\`` : `<@${span.user}>`))
    .join('');
}

const toneEmoji: Record<MessageModel['tone'], string> = { critical: ':red_circle:', warning: ':large_orange_circle:', info: ':information_source:', ok: ':white_check_mark:' };

/** Every cut to Slack's limits redacts first: a cut must never leave the head of a token behind. */
const clip = redactAndClip;

function buttonBlock(button: Button, index: number): Record<string, unknown> {
  return {
    type: 'button',
    action_id: `dw_${button.action}_${index}`,
    text: { type: 'plain_text', text: clip(button.label, 75), emoji: true },
    // A value too long for Slack is not cut (a cut JSON value is no value): the button is left out before this.
    value: redact(button.value),
    ...(button.style ? { style: button.style } : {}),
  };
}

const SECTION_CHARS = 3000;

/** Lines packed into as few section texts of at most 3000 characters as they fit in, in order. */
function sectionsOf(lines: string[]): string[] {
  const sections: string[] = [];
  let current = '';
  for (const line of lines.map((text) => clip(text, SECTION_CHARS))) {
    if (current && current.length + 1 + line.length > SECTION_CHARS) {
      sections.push(current);
      current = line;
    } else current = current ? `${current}\n${line}` : line;
  }
  if (current) sections.push(current);
  return sections;
}

/** Block Kit for a message; `text` is the plain fallback (notifications, screen readers). */
export function toSlack(message: MessageModel): { text: string; blocks: Array<Record<string, unknown>> } {
  const blocks: Array<Record<string, unknown>> = [];
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`${toneEmoji[message.tone]} *${lineToMrkdwn(message.title)}*`, 3000) } });
  if (message.fields?.length) {
    // Slack allows 10 fields per section: split longer lists.
    for (let start = 0; start < message.fields.length; start += 10) {
      blocks.push({
        type: 'section',
        fields: message.fields.slice(start, start + 10).map(([label, value]) => ({ type: 'mrkdwn', text: clip(`*${escapeMrkdwn(label)}*\n${lineToMrkdwn(value)}`, 2000) })),
      });
    }
  }
  // A section holds 3000 characters: long line lists (a timeline) go into several, split between lines.
  for (const text of sectionsOf((message.lines ?? []).map(lineToMrkdwn))) blocks.push({ type: 'section', text: { type: 'mrkdwn', text } });
  if (message.table) {
    const { columns, rows } = message.table;
    const widths = columns.map((column, index) => Math.max(column.length, ...rows.map((row) => (row[index] ?? '').length)));
    const render = (cells: string[]) => cells.map((cell, index) => cell.padEnd(widths[index]!)).join('  ').trimEnd();
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`\`\`\`${escapeMrkdwn([render(columns), ...rows.map(render)].join('\n'))}\`\`\``, 3000) } });
  }
  if (message.quote?.length) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`\`\`\`${escapeMrkdwn(message.quote.join('\n'))}\`\`\``, 3000) } });
  const buttons = (message.buttons ?? []).filter((button) => redact(button.value).length <= 2000).slice(0, 25);
  if (buttons.length) blocks.push({ type: 'actions', elements: buttons.map(buttonBlock) });
  if (message.context) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(lineToMrkdwn(message.context), 3000) }] });
  return { text: clip(redact(messageToPlainText(message)), 3000), blocks: blocks.slice(0, 50) };
}

/** The action a button id stands for (`dw_worker_pin_0` → `worker_pin`). */
export function actionOf(actionId: string): string | undefined {
  return /^dw_(.+)_\d+$/.exec(actionId)?.[1];
}
