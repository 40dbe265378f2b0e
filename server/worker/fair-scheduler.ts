/**
 * Which session the engine steps next (S26): fair in *time*, not in steps, and first between
 * scheduling groups (the client address that owns a session), then between a group's sessions.
 *
 * Each group and each session has a virtual clock, advanced by the engine milliseconds its steps
 * took. The next session is the runnable one of the runnable group with the least virtual time,
 * so a session whose steps take 1 s gets as much of the device as one whose steps take 50 ms
 * (not 20× more, as one-step-per-turn round robin gave it), and one address with 30 sessions gets
 * as much as one with a single session. A group or session that becomes runnable starts at the
 * least virtual time of those running, so being idle earns no credit to burst with later.
 */
export class FairScheduler<K> {
  private entries = new Map<K, { group: string; vtime: number; runnable: boolean }>();
  private groups = new Map<string, { vtime: number; members: number }>();

  /** Adds (or re-groups) `key`, not runnable yet. */
  add(key: K, group: string): void {
    this.remove(key);
    const g = this.groups.get(group) ?? { vtime: this.minGroupVtime(), members: 0 };
    g.members++;
    this.groups.set(group, g);
    this.entries.set(key, { group, vtime: 0, runnable: false });
  }

  remove(key: K): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    const g = this.groups.get(e.group)!;
    if (--g.members === 0) this.groups.delete(e.group);
  }

  /** Marks `key` runnable or not; becoming runnable catches its clocks up to the others'. */
  setRunnable(key: K, runnable: boolean): void {
    const e = this.entries.get(key);
    if (!e || e.runnable === runnable) return;
    if (runnable) {
      const g = this.groups.get(e.group)!;
      const groupRunning = [...this.entries.values()].some((o) => o.runnable && o.group === e.group);
      if (!groupRunning) g.vtime = Math.max(g.vtime, this.minGroupVtime(e.group));
      e.vtime = Math.max(e.vtime, this.minVtimeIn(e.group));
    }
    e.runnable = runnable;
  }

  /** Charges `ms` of engine time to `key` and its group. */
  charge(key: K, ms: number): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.vtime += ms;
    this.groups.get(e.group)!.vtime += ms;
  }

  /** The runnable key to step next, or undefined. */
  next(): K | undefined {
    let bestGroup: string | undefined;
    let bestG = Infinity;
    for (const e of this.entries.values()) {
      if (!e.runnable) continue;
      const gv = this.groups.get(e.group)!.vtime;
      if (gv < bestG) (bestG = gv), (bestGroup = e.group);
    }
    if (bestGroup === undefined) return undefined;
    let best: K | undefined;
    let bestV = Infinity;
    for (const [k, e] of this.entries) if (e.runnable && e.group === bestGroup && e.vtime < bestV) (bestV = e.vtime), (best = k);
    return best;
  }

  /** Least virtual time of the runnable groups (other than `except`), 0 when none runs. */
  private minGroupVtime(except?: string): number {
    let m = Infinity;
    for (const e of this.entries.values()) if (e.runnable && e.group !== except) m = Math.min(m, this.groups.get(e.group)!.vtime);
    return m === Infinity ? 0 : m;
  }

  private minVtimeIn(group: string): number {
    let m = Infinity;
    for (const e of this.entries.values()) if (e.runnable && e.group === group) m = Math.min(m, e.vtime);
    return m === Infinity ? 0 : m;
  }
}
