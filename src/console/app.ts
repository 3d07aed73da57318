import { createInterface } from 'node:readline';
import type { CommandFace } from '../runtime.js';
import type { CommandContext } from '../commands/types.js';
import { ConsoleService } from './service.js';
import { messageToText } from './render.js';
import { redact } from '../domain/redact.js';
import { stripTerminalControls } from '../domain/untrusted.js';

/**
 * The same bot in a terminal: alerts print as they are delivered, slash commands are typed,
 * confirmations are y/N prompts, and the operator acts as `console.user`.
 */
export class ConsoleApp {
  private awaitingConfirmation: string | undefined;
  private readonly timeZone: string;

  constructor(
    private readonly runtime: CommandFace,
    private readonly write: (text: string) => void = (text) => process.stdout.write(text),
  ) {
    this.timeZone = runtime.config.timezone;
  }

  service(): ConsoleService {
    return new ConsoleService(this.write, this.timeZone, (channel, ts) => this.runtime.store.incidents.incidentByThread(channel, ts));
  }

  private context(): CommandContext {
    return { user: this.runtime.config.console.user, channel: this.runtime.defaultChannel, face: 'console' };
  }

  /** Handles one typed line; returns when its answer has printed. */
  async handleLine(raw: string): Promise<void> {
    const line = raw.trim();
    if (this.awaitingConfirmation) {
      const id = this.awaitingConfirmation;
      this.awaitingConfirmation = undefined;
      const confirmed = /^(y|yes)$/i.test(line);
      const answer = await this.runtime.bus.decide(id, this.context().user, confirmed, this.context());
      this.write(`${messageToText(answer, this.timeZone)}\n`);
      return;
    }
    if (!line) return;
    if (line === 'help' || line === '/help' || line === '?') {
      this.write(`${messageToText(this.runtime.bus.help(), this.timeZone)}\n`);
      return;
    }
    if (line === 'quit' || line === 'exit') {
      this.write('bye\n');
      return;
    }
    const match = /^\/(\S+)\s*([\s\S]*)$/.exec(line);
    if (!match) {
      this.write(`Type a slash command such as /incident list, or "help".\n`);
      return;
    }
    const reply = await this.runtime.bus.dispatch(match[1]!, match[2]!, this.context());
    if (reply.kind === 'message') {
      this.write(`${messageToText(reply.message, this.timeZone)}\n`);
      return;
    }
    this.awaitingConfirmation = reply.id;
    this.write(`${messageToText(reply.preview, this.timeZone)}\nConfirm? [y/N] `);
  }

  /** Reads commands from `input` until it ends (`eof`) or the operator quits (`quit`). */
  async run(input: NodeJS.ReadableStream = process.stdin): Promise<'eof' | 'quit'> {
    const reader = createInterface({ input, terminal: false });
    for await (const line of reader) {
      if (/^(quit|exit)$/.test(line.trim())) {
        this.write('bye\n');
        return 'quit';
      }
      try {
        await this.handleLine(line);
      } catch (error) {
        this.write(`error: ${stripTerminalControls(redact((error as Error).message))}\n`);
      }
    }
    return 'eof';
  }
}
