import type { Delivery, MessageService } from '../../src/domain/messages.js';
import { messageToPlainText } from '../../src/domain/messages.js';

export interface Posted {
  ts: string;
  channel: string;
  key: string;
  threadTs?: string;
  text: string;
  updates: string[];
}

/** A message service that keeps what a channel would show, for engine tests without Slack. */
export class RecordingService implements MessageService {
  readonly posted: Posted[] = [];
  private counter = 0;

  async post(delivery: Delivery): Promise<{ ts: string }> {
    const ts = `1700000000.${String(++this.counter).padStart(6, '0')}`;
    this.posted.push({ ts, channel: delivery.channel, key: delivery.key, ...(delivery.threadTs ? { threadTs: delivery.threadTs } : {}), text: messageToPlainText(delivery.message), updates: [] });
    return { ts };
  }

  async update(delivery: Delivery & { ts: string }): Promise<void> {
    const target = this.posted.find((message) => message.ts === delivery.ts);
    if (!target) throw new Error(`message_not_found ${delivery.ts}`);
    target.updates.push(messageToPlainText(delivery.message));
  }

  async upload(delivery: Delivery & { threadTs: string }): Promise<void> {
    this.posted.push({ ts: `file.${++this.counter}`, channel: delivery.channel, key: delivery.key, threadTs: delivery.threadTs, text: `file ${delivery.message.attachment?.filename ?? ''}`, updates: [] });
  }

  async findByKey(delivery: Delivery): Promise<{ ts: string } | undefined> {
    const found = this.posted.find((message) => message.key === delivery.key);
    return found ? { ts: found.ts } : undefined;
  }

  roots(): Posted[] {
    return this.posted.filter((message) => !message.threadTs);
  }

  thread(ts: string): Posted[] {
    return this.posted.filter((message) => message.threadTs === ts);
  }

  /** The root's text as the channel shows it now. */
  current(message: Posted): string {
    return message.updates.at(-1) ?? message.text;
  }
}
