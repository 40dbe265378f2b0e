/**
 * Prometheus metrics (prom-client), one registry per server instance so several test servers in
 * one process don't collide. Gauges that describe current state are computed at scrape time.
 */
import client from 'prom-client';
import type { SessionManager } from '../session/session-manager.ts';

export class ServerMetrics {
  readonly registry = new client.Registry();
  readonly steps: client.Counter;
  readonly framesSent: client.Counter;
  readonly frameBytesSent: client.Counter;
  readonly docUpdates: client.Counter;
  readonly storageRetries: client.Counter;
  readonly framesDropped: client.Counter;

  constructor(sessions: () => SessionManager, backend: () => string, tensors: () => number | undefined = () => undefined) {
    const registers = [this.registry];
    new client.Gauge({
      name: 'atelier_sessions',
      help: 'Sessions loaded in memory',
      registers,
      collect() {
        this.set(sessions().loaded().length);
      },
    });
    new client.Gauge({
      name: 'atelier_sessions_running',
      help: 'Sessions whose optimization is running',
      registers,
      collect() {
        this.set(sessions().loaded().filter((s) => s.running).length);
      },
    });
    new client.Gauge({
      name: 'atelier_clients',
      help: 'Connected socket.io clients',
      registers,
      collect() {
        this.set(sessions().loaded().reduce((n, s) => n + s.clientCount, 0));
      },
    });
    new client.Gauge({
      name: 'atelier_steps_per_second',
      help: 'Optimizer steps per second, summed over running sessions',
      registers,
      collect() {
        this.set(sessions().loaded().reduce((n, s) => n + (s.running ? s.stepsPerSec : 0), 0));
      },
    });
    new client.Gauge({
      name: 'atelier_engine_tensors',
      help: 'Live tfjs tensors in the engine (flat over time unless something leaks); absent for engines that do not report',
      registers,
      collect() {
        const n = tensors();
        if (n !== undefined) this.set(n);
      },
    });
    new client.Gauge({
      name: 'atelier_engine_info',
      help: 'Engine backend in use (value is always 1)',
      labelNames: ['backend'],
      registers,
      collect() {
        this.reset();
        this.labels(backend()).set(1);
      },
    });
    this.steps = new client.Counter({ name: 'atelier_engine_steps_total', help: 'Optimizer steps done', registers });
    this.framesSent = new client.Counter({ name: 'atelier_frames_sent_total', help: 'Frames sent to clients and streams', registers });
    this.frameBytesSent = new client.Counter({ name: 'atelier_frame_bytes_sent_total', help: 'Bytes of frames sent', registers });
    this.framesDropped = new client.Counter({
      name: 'atelier_frames_dropped_total',
      help: 'Frames replaced by a newer one before a slow client could take them',
      registers,
    });
    this.docUpdates = new client.Counter({ name: 'atelier_doc_updates_total', help: 'Document updates stored', registers });
    this.storageRetries = new client.Counter({
      name: 'atelier_storage_retries_total',
      help: 'Update batches retried because the database was unavailable (nothing is relayed until they commit)',
      registers,
    });
    client.collectDefaultMetrics({ register: this.registry });
  }

  frameSent(bytes: number): void {
    this.framesSent.inc();
    this.frameBytesSent.inc(bytes);
  }
}
