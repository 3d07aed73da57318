import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { logger as rootLogger, registerSecret, type Logger } from './log.js';
import type { MessageService } from './messages.js';
import { Store } from './store/index.js';
import { IncidentEngine } from './incidents/engine.js';
import { routeFor } from './incidents/routing.js';
import { Poster, type PosterOptions } from './delivery/poster.js';
import { CommandBus } from './commands/bus.js';
import { AccessPolicy, type GroupMembers } from './commands/access.js';
import { Confirmations } from './commands/confirm.js';
import { incidentCommands } from './commands/incident.js';

/** The channel used when no Slack channel is configured (console, demo). */
export const CONSOLE_CHANNEL = 'C0CONSOLE';

export interface RuntimeOptions {
  clock?: Clock;
  log?: Logger;
  groupMembers?: GroupMembers;
  poster?: PosterOptions;
}

/** Everything between the watchers and a face: store, engine, commands, delivery. */
export class Runtime {
  readonly store: Store;
  readonly engine: IncidentEngine;
  readonly bus: CommandBus;
  readonly clock: Clock;
  readonly log: Logger;
  readonly defaultChannel: string;
  private poster: Poster | undefined;

  constructor(
    readonly config: Config,
    options: RuntimeOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? rootLogger();
    for (const name of ['SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET', 'CONFIGHUB_TOKEN', config.confighub?.tokenEnv]) {
      if (name) registerSecret(process.env[name]);
    }
    for (const registry of Object.values(config.registries)) if (registry.passwordEnv) registerSecret(process.env[registry.passwordEnv]);
    this.store = Store.open(config.store.path);
    this.defaultChannel = config.slack.channel ?? CONSOLE_CHANNEL;
    this.engine = new IncidentEngine(this.store, this.clock, config.alerting, (subject) => routeFor(config.routes, this.defaultChannel, subject));
    const access = new AccessPolicy(config.access, options.groupMembers);
    this.bus = new CommandBus(access, new Confirmations(), this.clock, (entry) =>
      this.store.audit.record({ ...entry, at: this.clock.now(), before: null, after: null, incidentId: null }),
    );
    this.bus.register(...incidentCommands({ store: this.store, engine: this.engine, clock: this.clock }));
    this.posterOptions = options.poster ?? {};
  }

  private readonly posterOptions: PosterOptions;

  /** Starts delivering the outbox through `service` (Slack or the terminal). */
  startDelivery(service: MessageService): Poster {
    this.poster = new Poster(this.store, service, this.clock, this.log.child({ component: 'outbox' }), this.posterOptions);
    this.poster.start();
    return this.poster;
  }

  /** Stops delivery after draining for at most `drainMs` (DESIGN.md: 10 s on SIGTERM), then closes the store. */
  async stop(drainMs = 10_000): Promise<void> {
    if (this.poster) {
      const drained = await this.poster.drain(drainMs);
      if (!drained) this.log.warn({ pending: this.store.outbox.depth() }, 'stopping with messages still in the outbox; they are delivered at the next start');
      await this.poster.stop();
    }
    this.store.close();
  }
}
