/**
 * REST calls to the server (paths from shared/protocol.ts). Errors come back as
 * {@link ApiError} carrying the server's code and message, so the UI can say what went wrong.
 */
import {
  api,
  bearer,
  ACCEPTED_IMAGE_TYPES,
  type CreateSessionResponse,
  type UploadImageResponse,
  type PresetsResponse,
  type ErrorResponse,
} from '../../../shared/protocol.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The JSON body of a successful response, or an {@link ApiError} with the server's code and message. */
export async function parseResponse<T>(res: Response): Promise<T> {
  if (res.ok) return (await res.json()) as T;
  let body: Partial<ErrorResponse> | undefined;
  try {
    body = (await res.json()) as ErrorResponse;
  } catch {
    /* not JSON */
  }
  throw new ApiError(res.status, body?.error?.code ?? 'HTTP_' + res.status, body?.error?.message ?? `${res.status} ${res.statusText}`);
}

export async function createSession(): Promise<CreateSessionResponse> {
  return parseResponse(await fetch(api.sessions, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }));
}

export async function uploadImage(sessionId: string, token: string, file: Blob): Promise<UploadImageResponse> {
  if (!(ACCEPTED_IMAGE_TYPES as readonly string[]).includes(file.type)) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `Only PNG, JPEG and WebP images can be used (got ${file.type || 'unknown type'}).`);
  }
  return parseResponse(
    await fetch(api.images(sessionId), {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': file.type },
      body: file,
    }),
  );
}

export async function fetchPresets(): Promise<PresetsResponse> {
  return parseResponse(await fetch(api.presets));
}

export function imageUrl(imageId: string): string {
  return api.image(imageId);
}
