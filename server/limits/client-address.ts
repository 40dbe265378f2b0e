/**
 * One client address for HTTP and sockets (R2): the TCP peer, or — when that peer is a trusted
 * proxy (TRUST_PROXY, express 'trust proxy' syntax; default loopback) — the address the proxy
 * names in X-Forwarded-For. express computes `req.ip` with the same proxy-addr function compiled
 * from the same setting, so the per-address limits of REST calls, media streams and sockets all
 * count the same person the same way. (Before, sockets used the raw peer: behind a local proxy
 * every user shared one socket allowance.)
 */
import type { IncomingMessage } from 'node:http';
// @ts-expect-error proxy-addr ships no types; its API is two functions (README of proxy-addr 2.0).
import proxyaddr from 'proxy-addr';

export type TrustFn = (addr: string, hop: number) => boolean;

/** Compiles a TRUST_PROXY value as express does ('loopback', 'loopback, 10.0.0.0/8', a hop count, 'true'/'false'). */
export function compileTrust(setting: string): TrustFn {
  const s = setting.trim();
  if (s === 'true') return () => true;
  if (s === 'false') return () => false;
  if (/^\d+$/.test(s)) {
    const hops = Number(s);
    return (_a, i) => i < hops;
  }
  return (proxyaddr as { compile(v: string[]): TrustFn }).compile(s.split(',').map((x) => x.trim()).filter(Boolean));
}

/** The client address of `req` under `trust`. */
export function clientAddress(req: IncomingMessage, trust: TrustFn): string {
  try {
    return (proxyaddr as (req: IncomingMessage, trust: TrustFn) => string)(req, trust);
  } catch {
    return req.socket?.remoteAddress ?? 'unknown';
  }
}

/** The refusal of a socket or stream from an address that already holds `max` of them (R2, S17). */
export function addressFullMessage(max: number): string {
  return `your address already has its maximum of ${max} connections and streams (MAX_SOCKETS_PER_IP)`;
}

/**
 * Open long-lived connections (sockets and media streams) per client address, so both count
 * against MAX_SOCKETS_PER_IP (R2, S17).
 */
export class ConnectionCounter {
  private counts = new Map<string, number>();

  constructor(readonly maxPerAddress: number) {}

  count(address: string): number {
    return this.counts.get(address) ?? 0;
  }

  /** Takes a slot for `address`; returns its release function, or null when the address is full. */
  acquire(address: string): (() => void) | null {
    const n = this.count(address);
    if (n >= this.maxPerAddress) return null;
    this.counts.set(address, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const m = this.count(address) - 1;
      if (m <= 0) this.counts.delete(address);
      else this.counts.set(address, m);
    };
  }
}
