/**
 * The command bus: every command declared once (usage, whether it changes a cluster, handler);
 * the checks every command shares (access, confirmation, audit of refusals) happen here.
 */
import type { Clock } from '../domain/clock.js';
import type { MessageModel } from '../domain/messages.js';
import { refusalText, type AccessPolicy } from './access.js';
import type { Audit } from './audit.js';
import type { ConfirmationRequest, Confirmations } from './confirm.js';
import { info, PlainRefusal, UsageError, type CommandContext, type CommandReply, type CommandSpec, type Plan } from './types.js';

const MAX_TEXT = 2000;

/** Splits command text into words; quotes group words; control characters are refused. */
function tokenize(text: string): string[] {
  if (text.length > MAX_TEXT) throw new UsageError(`that command is ${text.length} characters long; the limit is ${MAX_TEXT}`);
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) throw new UsageError('the command contains control characters; type it again as plain text');
  const words: string[] = [];
  const pattern = /"([^"]*)"|'([^']*)'|“([^”]*)”|(\S+)/g;
  for (const match of text.matchAll(pattern)) words.push(match[1] ?? match[2] ?? match[3] ?? match[4]!);
  return words;
}


/**
 * Every command declared once with its usage, whether it changes a cluster, and its handler;
 * the checks (access, confirmation, audit of refusals) live here, not in each handler.
 */
export class CommandBus {
  private readonly specs = new Map<string, CommandSpec[]>();

  constructor(
    private readonly access: AccessPolicy,
    private readonly confirmations: Confirmations,
    private readonly clock: Clock,
    private readonly audit: Audit,
  ) {
    confirmations.rebuildWith((request) => this.planFor(request));
  }

  /** The plan a guarded command makes now (a stored confirmation after a failover); undefined when it makes none. */
  private async planFor(request: ConfirmationRequest): Promise<Plan | undefined> {
    const [name, ...args] = tokenize(request.text);
    const spec = this.specs.get(request.family)?.find((candidate) => candidate.name === name);
    const result = await spec?.handle(args, request.ctx, request.text.replace(/^\s*\S+\s*/, ''));
    return result && 'execute' in result ? result : undefined;
  }

  register(...specs: CommandSpec[]): void {
    for (const spec of specs) this.specs.set(spec.family, [...(this.specs.get(spec.family) ?? []), spec]);
  }

  families(): string[] {
    return [...this.specs.keys()];
  }

  help(family?: string): MessageModel {
    const families = family && this.specs.has(family) ? [family] : this.families();
    const lines = families.flatMap((name) => (this.specs.get(name) ?? []).map((spec) => [{ code: spec.usage }, ` — ${spec.summary}`]));
    return { tone: 'info', title: [family && this.specs.has(family) ? `/${family} commands` : 'Driftwatch commands'], lines };
  }

  /** Runs `/family text`; never throws: every failure is a message for the asker. */
  async dispatch(family: string, text: string, ctx: CommandContext): Promise<CommandReply> {
    const ephemeral = (message: MessageModel): CommandReply => ({ kind: 'message', message, visibility: 'ephemeral' });
    const specs = this.specs.get(family);
    if (!specs) return ephemeral({ ...this.help(), title: [`Unknown command /${family.slice(0, 40)}.`] });
    let words: string[];
    try {
      words = tokenize(text);
    } catch (error) {
      return ephemeral(info((error as Error).message, 'warning'));
    }
    const [name, ...args] = words;
    if (!name || name === 'help') return ephemeral(this.help(family));
    const spec = specs.find((candidate) => candidate.name === name);
    if (!spec) {
      return ephemeral({ ...this.help(family), title: [`/${family} has no subcommand "${name.slice(0, 40)}".`] });
    }
    if (args.length === 1 && (args[0] === 'help' || args[0] === '--help')) return ephemeral({ tone: 'info', title: [{ code: spec.usage }], lines: [[spec.summary]] });
    if (spec.guarded) {
      // Before anything else: a refused user learns nothing about the cluster and costs it nothing.
      const rule = `${spec.family} ${spec.name}`;
      const decision = await this.access.check(rule, ctx.user, ctx.channel);
      if (!decision.allowed) {
        this.audit({ actor: ctx.user, action: rule, target: `/${family} ${text}`.slice(0, 300), result: `denied: ${decision.reason}` });
        return ephemeral(info(refusalText(decision), 'warning'));
      }
    }
    try {
      const result = await spec.handle(args, ctx, text.replace(/^\s*\S+\s*/, ''));
      if (!('execute' in result)) return ephemeral(result);
      const id = this.confirmations.create(ctx.user, result, this.clock.now(), { family, text, ctx });
      return { kind: 'confirm', id, preview: result.preview };
    } catch (error) {
      if (error instanceof PlainRefusal) return ephemeral(info(error.message, 'warning'));
      if (error instanceof UsageError) return ephemeral({ tone: 'warning', title: [error.message], lines: [['Usage: ', { code: spec.usage }]] });
      return ephemeral(info(`/${family} ${name} failed: ${(error as Error).message}`, 'critical'));
    }
  }

  /** A Confirm or Cancel press (button or y/N). Only the requester, only once, only in time. */
  async decide(id: string, user: string, confirmed: boolean, ctx: CommandContext): Promise<MessageModel> {
    const outcome = await this.confirmations.take(id, user, this.clock.now());
    const press = confirmed ? 'confirm' : 'cancel';
    const about = (plan: { incidentId?: number }) => (plan.incidentId !== undefined ? { incidentId: plan.incidentId } : {});
    if (outcome.kind === 'missing') {
      this.audit({ actor: user, action: press, target: `confirmation ${id.slice(0, 40)}`, result: 'refused: already used or unknown' });
      return info('This confirmation was already used or does not exist; nothing was changed.', 'warning');
    }
    if (outcome.kind === 'expired') {
      this.audit({ actor: user, action: outcome.plan.rule, target: 'confirmation', result: `expired (requested by ${outcome.requester}, pressed ${press})`, ...about(outcome.plan) });
      return info('This confirmation expired (they last 5 minutes); nothing was changed. Run the command again.', 'warning');
    }
    if (outcome.kind === 'not-requester') {
      this.audit({ actor: user, action: outcome.plan.rule, target: 'confirmation', result: `refused: ${press} pressed by someone other than the requester ${outcome.requester}`, ...about(outcome.plan) });
      return info(`Only <@${outcome.requester}> can confirm this; nothing was changed.`, 'warning');
    }
    if (outcome.kind === 'changed') {
      this.audit({ actor: user, action: outcome.plan.rule, target: 'confirmation', result: `refused: the plan changed across a failover (pressed ${press})`, ...about(outcome.plan) });
      return info('Things changed while this confirmation waited (Driftwatch moved to another replica meanwhile); nothing was changed. Run the command again to see the new preview.', 'warning');
    }
    if (!confirmed) {
      this.audit({ actor: user, action: outcome.plan.rule, target: 'confirmation', result: 'cancelled', ...about(outcome.plan) });
      return info('Cancelled; nothing was changed.');
    }
    // Access is checked again: the rule may have changed while the confirmation waited.
    const decision = await this.access.check(outcome.plan.rule, user, ctx.channel);
    if (!decision.allowed) {
      this.audit({ actor: user, action: outcome.plan.rule, target: 'confirmation', result: `denied at confirm: ${decision.reason}`, ...about(outcome.plan) });
      return info(refusalText(decision), 'warning');
    }
    try {
      return await outcome.plan.execute(ctx);
    } catch (error) {
      return info(`Failed: ${(error as Error).message}`, 'critical');
    }
  }
}
