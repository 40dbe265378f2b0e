/**
 * REST calls of the replay page (paths from shared/protocol.ts). Errors come back as
 * `ApiError` (net/api.ts) with the server's code and message.
 */
import {
  api,
  bearer,
  withToken,
  type CreateSessionResponse,
  type ExportAccepted,
  type ExportFormat,
  type ExportRequest,
  type ForkRequest,
  type ExportStatus,
  type HistoryResponse,
  type HistoryStateResponse,
} from '../../../shared/protocol.ts';
import { parseResponse } from '../net/api.ts';

export async function fetchHistory(session: string, token: string): Promise<HistoryResponse> {
  return parseResponse(await fetch(api.history(session), { headers: bearer(token), cache: 'no-store' }));
}

export async function fetchStateAt(session: string, token: string, t: number, signal?: AbortSignal): Promise<HistoryStateResponse> {
  return parseResponse(await fetch(api.historyState(session, Math.round(t)), { headers: bearer(token), signal, cache: 'no-store' }));
}

export async function forkAt(session: string, token: string, t: number): Promise<CreateSessionResponse> {
  return parseResponse(await fetch(api.fork(session), { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify({ t: Math.round(t) } satisfies ForkRequest) }));
}

export async function startExport(session: string, token: string, format: ExportFormat, fps: number): Promise<ExportAccepted> {
  return parseResponse(
    await fetch(api.exportTimelapse(session), { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify({ format, fps } satisfies ExportRequest) }),
  );
}

export async function exportStatus(jobId: string): Promise<ExportStatus> {
  return parseResponse(await fetch(api.exportJob(jobId), { cache: 'no-store' }));
}

/** A keyframe image URL an `<img>` can load (the token goes in the query). */
export function keyframeSrc(url: string, token: string): string {
  return withToken(url, token);
}
