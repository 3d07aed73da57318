/** How the apiserver answers: JSON bodies, and every error as a `kind: Status` object. */
import type { ServerResponse } from 'node:http';
import { qualifiedPlural, type Json, type ResourceInfo } from './kube-objects.js';

export function send(res: ServerResponse, code: number, body: Json): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function statusBody(code: number, reason: string, message: string, details?: Json): Json {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

export function sendStatus(res: ServerResponse, code: number, reason: string, message: string, details?: Json): void {
  send(res, code, statusBody(code, reason, message, details));
}

export const statusReasons: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
};

/** 404 for a named object, worded as the apiserver words it. */
export function sendNotFound(res: ServerResponse, resource: ResourceInfo, name: string): void {
  sendStatus(res, 404, 'NotFound', `${qualifiedPlural(resource)} "${name}" not found`, { name, group: resource.group, kind: resource.plural });
}
