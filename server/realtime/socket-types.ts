/**
 * The typed socket.io server and socket of the realtime layer, and what the handshake stores on a
 * socket (socket-server.ts fills it in; connection.ts and session-room.ts read it).
 */
import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, Role, ServerToClientEvents } from '../../shared/protocol.ts';
import type { Session } from '../session/session.ts';

export interface SocketData {
  session: Session;
  role: Role;
  name: string;
  /** Editors only: the session's view-only token, when the server can know it (S3). */
  viewerToken?: string;
  /** The trusted client address (client-address.ts). */
  address: string;
  /** Frees this socket's per-address slot. */
  releaseSlot: () => void;
}

export type AtelierSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type AtelierServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
