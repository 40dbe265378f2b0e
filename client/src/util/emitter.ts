/** A minimal typed listener set: `on` returns its own unsubscribe function. */
export class Emitter<T> {
  private readonly listeners = new Set<(value: T) => void>();
  on(fn: (value: T) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  get size(): number {
    return this.listeners.size;
  }
  emit(value: T): void {
    for (const fn of [...this.listeners]) fn(value);
  }
  clear(): void {
    this.listeners.clear();
  }
}
