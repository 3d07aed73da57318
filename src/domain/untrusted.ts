/**
 * Text from pods, ConfigHub, registries and endpoints (PRODUCTION.md "Secrets and untrusted
 * text"): it can never mention anyone, and it cannot drive a terminal.
 */

/** Zero-width space: put after `<`, Slack shows `<@U…>` as typed instead of pinging anyone. */
const BREAK = '\u200b';

/**
 * `<@U…>`, `<!subteam^…>`, `<!here>`, `<!channel>`, `<#C…>` in untrusted text stay text: the
 * faces keep *our* mentions (`<@U…>` right after `<`), and these no longer have that shape.
 */
export function neutralizeMentions(text: string): string {
  return text.replace(/<(?=\s*[@!#])/g, `<${BREAK}`);
}

/** ANSI/VT escape sequences (CSI, OSC, two-character ESC forms) and other C0/C1 controls except newline and tab. */
// eslint-disable-next-line no-control-regex
const TERMINAL_CONTROLS = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u009b[0-?]*[ -/]*[@-~]|\u001b[@-_]?|[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** What the console prints: no colour changes, cursor moves, title sets or bells from a pod's log. */
export function stripTerminalControls(text: string): string {
  return text.replace(TERMINAL_CONTROLS, '');
}
