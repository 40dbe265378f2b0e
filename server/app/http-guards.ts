/**
 * HTTP hardening: security headers (helmet) with a Content-Security-Policy for the client pages, per-IP
 * rate limits for the expensive REST calls (session creation, uploads), a request logger that
 * never writes tokens, and a helper that redacts tokens from any string.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';
import { ErrorCode, ROUTES } from '../../shared/protocol.ts';
import { createLogger, logs } from '../log.ts';
import { LocalRateLimit, type AddressRateLimit } from '../limits/shared-rate-limit.ts';
import { addressFullMessage, clientAddress, type TrustFn } from '../limits/client-address.ts';

const log = createLogger('http');

/** `ws://host wss://host` for a Host header that is a plain host[:port], else nothing (no injection). */
function sameHostSockets(host: string | undefined): string {
  return host && /^[A-Za-z0-9.\-:[\]]+$/.test(host) ? `ws://${host} wss://${host}` : '';
}

/**
 * CSP of the HTML pages (editor, projector, start page). Only the server's own origin: scripts and
 * styles from `'self'` (Vite emits files, no inline script), images also from `blob:`/`data:`
 * (frames are shown as blob URLs, QR codes as data URLs), socket.io over `ws:`/`wss:` to the
 * same host, workers from `blob:` (Pixi), no plugins, no framing by other sites, no base-URI tricks.
 * `'unsafe-inline'` styles are allowed because the UI sets style attributes from markup.
 * helmet's default directives are off (`useDefaults: false`): they add `upgrade-insecure-requests`,
 * which breaks the plain-http LAN setup (projectors and phones on http://<machine>:3000).
 */
const pageCspMiddleware = helmet.contentSecurityPolicy({
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'", "'unsafe-inline'"],
    imgSrc: ["'self'", 'blob:', 'data:'],
    mediaSrc: ["'self'", 'blob:'],
    fontSrc: ["'self'", 'data:'],
    connectSrc: ["'self'", (req) => sameHostSockets((req as IncomingMessage).headers.host)],
    workerSrc: ["'self'", 'blob:'],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
});

/** The page CSP header helmet sends for a request with this Host header (for tests and docs). */
export function pageCsp(host: string | undefined): string {
  let header = '';
  const req = { headers: { host } } as IncomingMessage;
  const res = { setHeader: (_name: string, value: string) => (header = value) } as unknown as ServerResponse;
  pageCspMiddleware(req, res, (err?: unknown) => {
    if (err) throw err;
  });
  return header;
}

/**
 * Headers on every response (helmet): no MIME sniffing, no Referer (page URLs carry `?token=`,
 * which must not leak to other sites), no framing, COOP same-origin, and helmet's other defaults.
 * HTML pages get {@link pageCsp}; routes that set their own CSP (image reads: `default-src 'none'`)
 * keep it because they set it later. Two helmet defaults are off:
 * - Strict-Transport-Security: TLS belongs to the reverse proxy (docs/DEPLOY.md), and the same
 *   server also runs on plain http on a LAN; HSTS pins a host name to https for a year, which is the
 *   deployer's decision, made in the proxy.
 * - Cross-Origin-Resource-Policy: frames, the MJPEG stream and uploaded images are opened with
 *   `?token=` from other origins (OBS browser sources, pages that embed the stream).
 */
export function securityHeaders(): RequestHandler {
  const everywhere = helmet({
    contentSecurityPolicy: false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    strictTransportSecurity: false,
    crossOriginResourcePolicy: false,
  });
  return (req: Request, res: Response, next: NextFunction) => {
    everywhere(req, res, (err?: unknown) => {
      if (err) return next(err);
      if (req.path.startsWith(ROUTES.apiPrefix + '/') || req.path.startsWith(ROUTES.socket)) return next();
      pageCspMiddleware(req, res, next);
    });
  };
}

/** Replaces token values (`?token=…`, `Bearer …`, `"token":"…"`) in `text` with `[redacted]`. */
export function redactTokens(text: string): string {
  return text
    .replace(/([?&;]token=)[^&#\s"']*/gi, '$1[redacted]')
    .replace(/(Bearer\s+)[^\s"']+/gi, '$1[redacted]')
    .replace(/("(?:editor|viewer)?[Tt]oken"\s*:\s*")[^"]*/g, '$1[redacted]');
}

/** Logs one debug line per request (method, URL with tokens redacted, status, ms). */
export function requestLogger(): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    // Only at debug level: redacting every URL of a 1000-request burst cost 220 ms of main thread.
    if (!logs('debug')) return next();
    const start = performance.now();
    res.on('finish', () => {
      log.debug(`${req.method} ${redactTokens(req.originalUrl)} ${res.statusCode}`, { ms: Math.round(performance.now() - start), ip: req.ip });
    });
    next();
  };
}

/**
 * A request path with malformed percent-encoding (`/api/images/%E0%A4%A`) is answered 400
 * BAD_REQUEST here, before routing: express would throw a URIError while decoding the route's
 * parameters, answered 500 with an error log per request (R3).
 */
export function rejectBadPercentEncoding(): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const path = (req.originalUrl ?? req.url).split('?')[0];
    try {
      decodeURIComponent(path);
    } catch {
      res.status(400).json({ error: { code: ErrorCode.BadRequest, message: 'the request path has malformed percent-encoding' } });
      return;
    }
    next();
  };
}

/** A per-minute allowance per client address in this process, shared by the routes that spend it. */
export function perMinuteLimiter(perMinute: number): AddressRateLimit {
  return new LocalRateLimit(perMinute);
}

/**
 * Per-IP token bucket for one kind of request: over the limit → 429 RATE_LIMITED with
 * `Retry-After`. `perMinute` is both the burst and the sustained rate per minute.
 * The IP is `req.ip` (the trusted client address, see client-address.ts). Pass `limiter` to share
 * one allowance between routes (session creation and forks spend the same one).
 */
export function perIpLimit(what: string, perMinute: number, limiter: AddressRateLimit = perMinuteLimiter(perMinute)): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const verdict = await limiter.take(ip);
    if (verdict.ok) return next();
    res.setHeader('Retry-After', String(verdict.retryAfterSec));
    req.resume();
    res.status(429).json({ error: { code: ErrorCode.RateLimited, message: `too many ${what} from your address: at most ${perMinute} per minute; retry later` } });
  };
}

/**
 * R2/S17, before express: a `stream.mjpg` request from an address that already holds its
 * MAX_SOCKETS_PER_IP connections is answered 429 straight from the HTTP server's request event,
 * without the middleware chain, the router and the token check. One address opening 1000 streams
 * at once (`npm run attack -- --only streams`) kept /healthz waiting 311 ms behind the refusals
 * going through express. The route's `acquire` stays the authoritative check (a slot can fill
 * while a request that passed here awaits its token check).
 * Returns whether it answered.
 */
export function refuseStreamFlood(connections: { count(address: string): number; readonly maxPerAddress: number }, trust: TrustFn): (req: IncomingMessage, res: ServerResponse) => boolean {
  const streamPath = new RegExp('^' + ROUTES.stream.replace(/[.]/g, '\\.').replace(/:[a-z]+/gi, '[^/?]+') + '(\\?|$)');
  const body = (max: number) => JSON.stringify({ error: { code: ErrorCode.TooManyClients, message: addressFullMessage(max) } });
  return (req, res) => {
    if (req.method !== 'GET' || !streamPath.test(req.url ?? '')) return false;
    if (connections.count(clientAddress(req, trust)) < connections.maxPerAddress) return false;
    res.writeHead(429, { 'Content-Type': 'application/json; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' });
    res.end(body(connections.maxPerAddress));
    return true;
  };
}
