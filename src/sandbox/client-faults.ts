/**
 * Who is calling the fake apiserver, and what goes wrong for them. Each client has its own bearer
 * token, so a test can make the apiserver unreachable for one replica while another is answered
 * (`hang`: requests are never answered; `reset`: connections are cut), or fault requests by path
 * through a hook. Lifting a fault cuts what hung, as a healed partition would.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { sendStatus, statusReasons } from './status.js';

/** What a request is, for a fault hook to decide on. */
export interface RequestInfo {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The client whose token the request carried; undefined for an unknown token. */
  client?: string;
}

/**
 * What happens to a request instead of its answer: `hang` never answers it (a black-holed
 * apiserver; cut when the fault is lifted), `reset` destroys the connection, a status answers
 * with that Status error.
 */
export type RequestFault = 'hang' | 'reset' | { status: number; reason?: string; message?: string };

export type FaultHook = (request: RequestInfo) => RequestFault | undefined;

/** The client the kubeconfig's own token belongs to. */
export const DEFAULT_CLIENT = 'default';

/** Scope key for "every client". */
const EVERYONE = '*';

export class ClientFaults {
  /** Bearer token → client name. */
  private readonly clients = new Map<string, string>();
  /** The client each connection last spoke as, so one client's connections can be cut. */
  private readonly socketClients = new Map<Socket, string | undefined>();
  private readonly unreachable = new Map<string, 'hang' | 'reset'>();

  constructor(
    defaultToken: string,
    private hook: FaultHook | undefined,
    /** Silences open watch streams (of one client, or all) when requests start hanging. */
    private readonly silenceWatches: (client: string | undefined) => void,
  ) {
    this.clients.set(defaultToken, DEFAULT_CLIENT);
  }

  /** The client a bearer token belongs to (undefined: unknown token). */
  clientOf(bearer: string | undefined): string | undefined {
    return bearer === undefined ? undefined : this.clients.get(bearer);
  }

  tokenOf(client: string): string | undefined {
    return [...this.clients].find(([, name]) => name === client)?.[0];
  }

  /** A client with its own token (the same one when it exists already). */
  addClient(client: string): string {
    const existing = this.tokenOf(client);
    if (existing) return existing;
    const token = `fake-token-${client}-${randomBytes(12).toString('hex')}`;
    this.clients.set(token, client);
    return token;
  }

  /** Remembers which client spoke on `socket`, until it closes. */
  track(socket: Socket, client: string | undefined): void {
    if (!this.socketClients.has(socket)) socket.once('close', () => this.socketClients.delete(socket));
    this.socketClients.set(socket, client);
  }

  setHook(hook: FaultHook | undefined): void {
    this.hook = hook;
  }

  setUnreachable(mode: boolean | 'hang' | 'reset', client?: string): void {
    const scope = client ?? EVERYONE;
    if (mode === false) {
      if (!this.unreachable.delete(scope)) return;
      // The partition heals: what hung (requests, silenced watches) is cut, so clients reconnect.
      this.cut(client);
      return;
    }
    const how = mode === true ? 'hang' : mode;
    this.unreachable.set(scope, how);
    if (how === 'reset') this.cut(client);
    else this.silenceWatches(client);
  }

  /** Answers `request` with its fault, if it has one; true when it did. */
  apply(req: IncomingMessage, res: ServerResponse, request: RequestInfo): boolean {
    const fault =
      this.unreachable.get(EVERYONE) ?? (request.client !== undefined ? this.unreachable.get(request.client) : undefined) ?? this.hook?.(request);
    if (!fault) return false;
    if (fault === 'hang') return true; // never answered; cut when the fault is lifted (or the client gives up)
    if (fault === 'reset') {
      req.socket.destroy();
      return true;
    }
    sendStatus(res, fault.status, fault.reason ?? statusReasons[fault.status] ?? 'InternalError', fault.message ?? `fake apiserver: injected ${fault.status}`);
    return true;
  }

  /** Destroys the connections of `client` (undefined: of everyone). */
  private cut(client: string | undefined): void {
    for (const [socket, owner] of this.socketClients) if (client === undefined || owner === client) socket.destroy();
  }
}
