/**
 * HTTP hardening: security headers with a Content-Security-Policy for the client pages, per-IP
 * rate limits for the expensive REST calls (session creation, uploads), a request logger that
 * never writes tokens, and a helper that redacts tokens from any string.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ErrorCode, ROUTES } from '../../shared/protocol.ts';
import { createLogger, logs } from '../log.ts';
import { LocalRateLimit, type AddressRateLimit } from '../limits/shared-rate-limit.ts';

const log = createLogger('http');

/**
 * CSP of the HTML pages (editor, projector, start page). Only the server's own origin: scripts and
 * styles from `'self'` (Vite emits files, no inline script), images also from `blob:`/`data:`
 * (frames are shown as blob URLs, QR codes as data URLs), socket.io over `ws:`/`wss:` to the
 * same host, workers from `blob:` (Pixi), no plugins, no framing by other sites, no base-URI tricks.
 * `'unsafe-inline'` styles are allowed because the UI sets style attributes from markup.
 */
export function pageCsp(host: string | undefined): string {
  const safeHost = host && /^[A-Za-z0-9.\-:[\]]+$/.test(host) ? host : '';
  const sockets = safeHost ? ` ws://${safeHost} wss://${safeHost}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "media-src 'self' blob:",
    "font-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * Headers on every response: no MIME sniffing, no Referer (page URLs carry `?token=`, which must
 * not leak to other sites), no framing. HTML pages get {@link pageCsp}; routes that set their own
 * CSP (image reads: `default-src 'none'`) keep it because they set it later.
 */
export function securityHeaders(): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    if (!req.path.startsWith(ROUTES.apiPrefix + '/') && !req.path.startsWith(ROUTES.socket)) {
      res.setHeader('Content-Security-Policy', pageCsp(req.get('host')));
    }
    next();
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
