/**
 * History, replay, fork and export REST routes (docs/HISTORY.md). Mounted before the main API
 * router (whose `/api` catch-all answers 404). Reads go straight to storage: looking at a
 * session's history neither loads it into the session manager nor wakes its engine.
 *
 * Tokens: history, state, keyframe images and exports take the editor or the viewer token
 * (Bearer or `?token=`); fork takes the editor token (a fork is a new editable session, an action
 * a read-only link should not be able to take). Export jobs are then addressed by their
 * unguessable id alone (so `<a href>` downloads work).
 */
import express, { type Request } from 'express';
import { ErrorCode, ForkRequest, HistoryStateQuery, ROUTES, api, type CreateSessionResponse, type ExportAccepted, type Role } from '../../shared/protocol.ts';
import type { ImageStore } from '../images/store.ts';
import { ExportJobs, ExportRequestError, parseExportRequest, type ExportLimits } from '../history/export.ts';
import { createReadStream } from 'node:fs';
import { forkSession } from '../history/fork.ts';
import { HistoryService } from '../history/history-service.ts';
import { TooManySessionsError, type SessionManager } from '../session/session-manager.ts';
import { authorizeAccess, storedSessionLookup } from '../session/access.ts';
import type { SessionRecord, Storage } from '../storage/types.ts';
import { HttpError, createdBody, parseRequest, tokenOf } from './routes.ts';
import { perIpLimit } from './http-guards.ts';
import type { AddressRateLimit } from '../limits/shared-rate-limit.ts';
import type { PaintBudget } from '../session/doc-state.ts';

export interface HistoryRouteDeps {
  sessions: SessionManager;
  storage: Storage;
  images: ImageStore;
  /** Forks spend the session-creation allowance of the client address (SESSION_CREATES_PER_MIN). */
  creations?: AddressRateLimit;
  sessionCreatesPerMin?: number;
  /** Base of absolute links (PUBLIC_URL). */
  publicUrl?: () => string;
  /** Export budgets (S28). */
  exportLimits?: Partial<ExportLimits>;
  /** EXPORT_PIXELS_PER_MIN per address (cluster-wide with Redis, S33). */
  exportPixels?: AddressRateLimit;
  /** The session's paint budget, so a replayed state is what the engine saw (S24). */
  paintBudget?: PaintBudget;
}

/** The history router; `exports` is exposed for tests (waiting for jobs). */
export function historyRouter(deps: HistoryRouteDeps): express.Router & { exports: ExportJobs; history: HistoryService } {
  const r = express.Router() as express.Router & { exports: ExportJobs; history: HistoryService };
  const history = new HistoryService(deps.storage, deps.images, deps.paintBudget);
  const jobs = new ExportJobs(deps.exportLimits, deps.exportPixels);
  const forkLimit = deps.creations && deps.sessionCreatesPerMin ? perIpLimit('new sessions and forks', deps.sessionCreatesPerMin, deps.creations) : (_req: unknown, _res: unknown, next: () => void) => next();
  r.exports = jobs;
  r.history = history;
  const json = express.json({ limit: '4kb' });
  const stored = storedSessionLookup((id) => deps.storage.getSession(id));
  /** The stored session the request's token opens with at least role `need` (session/access.ts). */
  const authorizeStored = async (req: Request, need: Role): Promise<SessionRecord> =>
    (await authorizeAccess(stored, String(req.params.id ?? ''), tokenOf(req), need)).record;
  const need = (): HistoryService => history;

  r.get(ROUTES.history, async (req, res) => {
    const rec = await authorizeStored(req, 'viewer');
    res.set('Cache-Control', 'no-store').json(await need().history(rec.id, rec.createdAt));
  });

  r.get(ROUTES.historyState, async (req, res) => {
    const rec = await authorizeStored(req, 'viewer');
    const { t } = parseRequest(HistoryStateQuery, req.query);
    res.set('Cache-Control', 'no-store').json((await need().stateAt(rec.id, t)).body);
  });

  r.get(ROUTES.keyframe, async (req, res) => {
    const rec = await authorizeStored(req, 'viewer');
    const kid = Number(req.params.kid);
    const kf = Number.isSafeInteger(kid) && kid > 0 ? await need().keyframe(rec.id, kid) : undefined;
    if (!kf) throw new HttpError(404, ErrorCode.NotFound, `session '${rec.id}' has no keyframe ${String(req.params.kid)}`);
    res.set({
      'Content-Type': kf.mime,
      'Content-Length': String(kf.data.length),
      'Cache-Control': 'private, max-age=31536000, immutable',
      'X-Content-Type-Options': 'nosniff',
      'X-Atelier-Iter': String(kf.iter),
    });
    res.end(kf.data);
  });

  r.post(ROUTES.fork, forkLimit, json, async (req, res) => {
    const rec = await authorizeStored(req, 'editor');
    const { t } = parseRequest(ForkRequest, req.body);
    const h = need();
    const at = await h.stateAt(rec.id, t);
    const keyframe = at.keyframe ? await h.keyframe(rec.id, at.keyframe.id) : undefined;
    let created;
    try {
      created = await forkSession(deps.sessions, h.store, { sessionId: rec.id, t, state: at.state, keyframe }, req.ip);
    } catch (e) {
      if (e instanceof TooManySessionsError) throw new HttpError(503, ErrorCode.TooManySessions, e.message);
      throw e;
    }
    const base = deps.publicUrl?.() ?? 'http://localhost';
    const body: CreateSessionResponse = createdBody(base, created.session.id, created.editorToken, created.viewerToken);
    res.status(201).json(body);
  });

  r.post(ROUTES.exportTimelapse, json, async (req, res) => {
    const rec = await authorizeStored(req, 'viewer');
    const h = need();
    try {
      const options = parseExportRequest(req.body);
      const frames = await h.keyframes(rec.id);
      const status = await jobs.start(rec.id, { list: () => frames, get: (id) => h.keyframe(rec.id, id) }, options, req.ip);
      const body: ExportAccepted = { jobId: status.jobId, statusUrl: api.exportJob(status.jobId) };
      res.status(202).json(body);
    } catch (e) {
      if (e instanceof ExportRequestError) throw new HttpError(e.status, e.code === 'RATE_LIMITED' ? ErrorCode.RateLimited : ErrorCode.BadRequest, e.message);
      throw e;
    }
  });

  r.get(ROUTES.exportJob, (req, res) => {
    const status = jobs.status(String(req.params.jobId));
    if (!status) throw new HttpError(404, ErrorCode.NotFound, 'no such export job (jobs are kept 15 minutes after they finish)');
    res.set('Cache-Control', 'no-store').json(status);
  });

  r.get(ROUTES.exportFile, (req, res) => {
    const file = jobs.file(String(req.params.jobId));
    if (!file) throw new HttpError(404, ErrorCode.NotFound, 'no finished export with this id');
    res.set({
      'Content-Type': file.mime,
      'Content-Length': String(file.bytes),
      'Content-Disposition': `attachment; filename="${file.name}"`,
      'Cache-Control': 'private, max-age=900',
      'X-Content-Type-Options': 'nosniff',
    });
    const stream = createReadStream(file.path);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });

  return r;
}
