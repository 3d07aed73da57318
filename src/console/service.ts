import type { Delivery, MessageService } from '../domain/messages.js';
import { messageToText } from './render.js';

/**
 * The terminal as a channel: roots print at the left, thread replies indented under their
 * incident, root updates as a fresh copy marked "updated".
 */
export class ConsoleService implements MessageService {
  private counter = 0;

  constructor(
    private readonly write: (text: string) => void,
    private readonly timeZone: string,
    /** Which incident a thread belongs to (the store knows, across restarts). */
    private readonly incidentOfThread: (channel: string, ts: string) => number | undefined,
  ) {}

  private threadName(channel: string, ts: string): string {
    const incident = this.incidentOfThread(channel, ts);
    return incident ? `#${incident}` : 'thread';
  }

  async post(delivery: Delivery): Promise<{ ts: string }> {
    const ts = `${Date.now()}.${String(++this.counter).padStart(6, '0')}`;
    if (delivery.threadTs) {
      this.write(`  ↳ in ${this.threadName(delivery.channel, delivery.threadTs)}:\n${messageToText(delivery.message, this.timeZone, '    ')}\n`);
    } else {
      this.write(`\n${messageToText(delivery.message, this.timeZone)}\n`);
    }
    return { ts };
  }

  async update(delivery: Delivery & { ts: string }): Promise<void> {
    this.write(`  ↻ root of ${this.threadName(delivery.channel, delivery.ts)} updated:\n${messageToText(delivery.message, this.timeZone, '    ')}\n`);
  }

  async upload(delivery: Delivery & { threadTs: string }): Promise<void> {
    this.write(`  ↳ in ${this.threadName(delivery.channel, delivery.threadTs)}:\n${messageToText(delivery.message, this.timeZone, '    ')}\n`);
  }

  async findByKey(): Promise<undefined> {
    // The terminal keeps no history to search; a message interrupted by a crash prints again.
    return undefined;
  }
}
