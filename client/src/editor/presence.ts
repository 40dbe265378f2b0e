/**
 * Who is here, from y-protocols awareness: participants (name, colour) and their cursors.
 * Awareness states are validated with the shared AwarenessState schema; malformed ones are
 * ignored. The projector sets no local state, so it never appears as a participant.
 */
import type { Awareness } from 'y-protocols/awareness';
import { AwarenessState, type PresenceTool } from '../../../shared/schema.ts';

export interface Participant {
  clientId: number;
  name: string;
  color: string;
  isMe: boolean;
  cursor: { x: number; y: number } | null;
  /** The tool they hold (a style brush with its style), when they publish it. */
  tool: PresenceTool | null;
}

export function participantsOf(awareness: Awareness): Participant[] {
  const out: Participant[] = [];
  for (const [clientId, state] of awareness.getStates()) {
    const r = AwarenessState.safeParse(state);
    if (!r.success) continue;
    out.push({
      clientId,
      name: r.data.user.name || 'Anonymous',
      color: r.data.user.color,
      isMe: clientId === awareness.clientID,
      cursor: r.data.cursor ?? null,
      tool: r.data.tool ?? null,
    });
  }
  return out.sort((a, b) => Number(b.isMe) - Number(a.isMe) || a.name.localeCompare(b.name));
}

/** client id → display name, for naming the authors of document changes. */
export function nameOf(awareness: Awareness, clientId: number): string | undefined {
  const r = AwarenessState.safeParse(awareness.getStates().get(clientId));
  return r.success ? r.data.user.name : undefined;
}
