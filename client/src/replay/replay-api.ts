/**
 * REST calls of the replay page (paths from shared/protocol.ts). Errors come back as
 * {@link ApiError} with the server's code and message.
 */
import {
  api,
  type CreateSessionResponse,
  type ErrorResponse,
  type ExportAccepted,
  type ExportFormat,
  type ExportStatus,
  type HistoryResponse,
  type HistoryStateResponse,
} from '../../../shared/protocol.ts';
import { ApiError } from '../net/api.ts';

async function parse<T>(res: Response): Promise<T> {
  if (res.ok) return (await res.json()) as T;
  let body: Partial<ErrorResponse> | undefined;
  try {
    body = (await res.json()) as ErrorResponse;
  } catch {
    /* not JSON */
  }
  throw new ApiError(res.status, body?.error?.code ?? 'HTTP_' + res.status, body?.error?.message ?? `${res.status} ${res.statusText}`);
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export async function fetchHistory(session: string, token: string): Promise<HistoryResponse> {
  return parse(await fetch(api.history(session), { headers: bearer(token), cache: 'no-store' }));
}

export async function fetchStateAt(session: string, token: string, t: number, signal?: AbortSignal): Promise<HistoryStateResponse> {
  return parse(await fetch(api.historyState(session, Math.round(t)), { headers: bearer(token), signal, cache: 'no-store' }));
}

export async function forkAt(session: string, token: string, t: number): Promise<CreateSessionResponse> {
  return parse(await fetch(api.fork(session), { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify({ t: Math.round(t) }) }));
}

export async function startExport(session: string, token: string, format: ExportFormat, fps: number): Promise<ExportAccepted> {
  return parse(
    await fetch(api.exportTimelapse(session), { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify({ format, fps }) }),
  );
}

export async function exportStatus(jobId: string): Promise<ExportStatus> {
  return parse(await fetch(api.exportJob(jobId), { cache: 'no-store' }));
}

/** A keyframe image URL an `<img>` can load (the token goes in the query). */
export function keyframeSrc(url: string, token: string): string {
  return `${url}?token=${encodeURIComponent(token)}`;
}
