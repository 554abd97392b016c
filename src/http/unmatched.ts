// Answers for requests no route handles: unknown paths (404), known paths with another method (405 + Allow), URLs
// the router cannot read, and bytes that are not HTTP at all. Wired by buildApp (app.ts), all in registry shape.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError, errorAnswer, toHttpError } from './errors';

/** The routes' paths and methods, for the Allow header of a 405. Filled from Fastify's onRoute hook. */
export class RouteTable {
  private readonly routes: { pattern: RegExp; methods: Set<string> }[] = [];

  add(url: string, methods: string | string[]): void {
    const source = url
      .split('/')
      .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    const pattern = new RegExp(`^${source}$`);
    let entry = this.routes.find((r) => r.pattern.source === pattern.source);
    if (!entry) {
      entry = { pattern, methods: new Set() };
      this.routes.push(entry);
    }
    for (const method of Array.isArray(methods) ? methods : [methods])
      entry.methods.add(method.toUpperCase());
  }

  /** The methods `path` (no query) answers, sorted; empty when no route has that path. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.routes)
      if (route.pattern.test(path)) for (const m of route.methods) methods.add(m);
    return [...methods].sort();
  }
}

/** The not-found handler: 405 with Allow when the path exists under other methods, else 404 not_found. */
export function answerUnmatched(
  table: RouteTable,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const path = request.url.split('?')[0];
  const allowed = table.allowed(path);
  if (allowed.length > 0) {
    void reply.header('allow', allowed.join(', '));
    return send(
      reply,
      new HttpError('method_not_allowed', `${request.method} is not allowed here; use ${allowed.join(', ')}`),
    );
  }
  return send(reply, new HttpError('not_found', `no route ${request.method} ${path}`));
}

/** Fastify's frameworkErrors: a URL the router cannot decode (%zz) or a path parameter beyond maxParamLength. */
export function answerFrameworkError(
  err: Error,
  _request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  return send(reply, toHttpError(err, 0).error);
}

function send(reply: FastifyReply, error: HttpError): FastifyReply {
  const { status, headers, body } = errorAnswer(error);
  return reply.status(status).headers(headers).send(body);
}

/**
 * Node's clientError: the bytes were not an HTTP request Node could parse (raw non-ASCII bytes in the path, a
 * control character in a header), headers too large, or a request that did not arrive in time. No route, no
 * Fastify reply: the answer is written to the socket, in registry shape, and the connection closed.
 */
export function answerClientError(
  this: { log: { debug(obj: object, msg: string): void } },
  err: NodeJS.ErrnoException,
  socket: Socket,
): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // Debug only: scanners and broken clients send such bytes all day, and no route or user is known.
  this.log.debug({ code: err.code }, 'refused bytes that are not an HTTP request');
  const error =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new HttpError('request_timeout')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? new HttpError('headers_too_large')
        : new HttpError('invalid_argument', clientErrorMessage(err.code));
  const { status, body } = errorAnswer(error);
  const text = JSON.stringify(body);
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n` +
        `connection: close\r\n\r\n${text}`,
    );
  socket.destroy(err);
}

function clientErrorMessage(code: string | undefined): string {
  switch (code) {
    case 'HPE_INVALID_URL':
      return 'the request line is not valid HTTP: percent-encode bytes outside ASCII in the path';
    case 'HPE_INVALID_HEADER_TOKEN':
      return 'a header is not valid HTTP (a control character or a byte outside its syntax)';
    case 'HPE_INVALID_METHOD':
      return 'the method is not an HTTP method';
    default:
      return 'the request is not valid HTTP/1.1';
  }
}
