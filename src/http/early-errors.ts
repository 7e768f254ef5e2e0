/**
 * The error answers node and fastify make before any route runs, in the
 * service's shape `{"error":"…"}` (SPEC §7, schema/http-error.schema.json)
 * instead of fastify's `{"error","message","statusCode"}` or node's empty body.
 */
import { STATUS_CODES, maxHeaderSize } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';


function errorJson(message: string): string {
  return JSON.stringify({ error: message });
}

/**
 * fastify's `clientErrorHandler`: node could not parse a request (or it took
 * too long), so there is no request object; the answer is written on the
 * socket, which is then closed — as fastify's own handler does, only the body
 * differs.
 */
export function clientErrorAnswer(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status: number;
  let message: string;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    message = 'the request was not received in time';
  } else if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    message = `the request line and headers are over ${maxHeaderSize / 1024} KiB together`; // node's --max-http-header-size
  } else {
    status = 400;
    message = `malformed HTTP request${err.code !== undefined ? ` (${err.code})` : ''}`;
  }
  const body = errorJson(message);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** fastify's `frameworkErrors`: a URL the router cannot decode (400), and the router's other refusals. */
export function frameworkErrorAnswer(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  void reply.code(status).send({ error: err.code === 'FST_ERR_BAD_URL' ? `invalid URL: ${err.message}` : err.message });
}

/** How long a client has to send its request line and headers (node's default, 60 s, let a slow-header client hold a served connection for a minute). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** How long for the whole request (no route takes a body); node requires at least the headers' time. */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Options for node's server: a missing Host header is refused by {@link missingHost}, with a body,
 * instead of by node without one; request line and headers within {@link HEADERS_TIMEOUT_MS}
 * (408), checked every second rather than node's 30 s, so connections that trickle their headers
 * give their slot back within about 11 s.
 */
export const HTTP_SERVER_OPTIONS = { requireHostHeader: false, headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1000 } as const;

/**
 * Answers a CONNECT request (node closes the socket without a word when nothing listens for it),
 * then closes the connection for good: the socket has left the HTTP parser, so no timeout of the
 * server's applies to it any more, and a client that never closed its side would hold a served
 * connection slot for ever.
 */
export function answerConnect(server: Server): void {
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    const body = errorJson(`method CONNECT not allowed on ${req.url ?? ''}: this is not a proxy`);
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    // every route of this API is a GET (HEAD with it)
    socket.end(
      `HTTP/1.1 405 ${STATUS_CODES[405]}\r\nAllow: GET, HEAD\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  });
}

/** The 400 node would have answered (RFC 9112: an HTTP/1.1 request must have a Host header); null when the request has one. */
export function missingHost(req: IncomingMessage): string | null {
  return req.httpVersion === '1.1' && req.headers.host === undefined ? 'an HTTP/1.1 request needs a Host header' : null;
}

/** Answers a request with an `Expect` other than `100-continue` (node would send 417 with no body). */
export function answerExpectations(server: Server): void {
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const body = errorJson(`cannot meet the expectation ${JSON.stringify(req.headers.expect ?? '')}`);
    res.writeHead(417, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
    res.end(body);
  });
}
