/**
 * An engine host for tests that records what reaches the engine: every open (inputs and options)
 * and every update, passed through to the fake engine so frames still flow.
 */
import type { EngineEvents, EngineHost, EngineInputs, OpenOptions, SessionEngine } from '../session/engine-host.ts';
import { FakeEngineHost } from '../session/fake-engine.ts';

export class RecordingEngineHost implements EngineHost {
  readonly inner = new FakeEngineHost({ frameRate: 10, frameQuality: 70 });
  readonly backend = 'fake';
  opens: { inputs: EngineInputs; options: OpenOptions }[] = [];
  updates: Partial<EngineInputs>[] = [];

  open(id: string, inputs: EngineInputs, options: OpenOptions, events: EngineEvents): SessionEngine {
    this.opens.push({ inputs, options });
    const e = this.inner.open(id, inputs, options, events);
    return {
      update: (c) => {
        this.updates.push(c);
        e.update(c);
      },
      setActive: (a) => e.setActive(a),
      dispose: () => e.dispose(),
    };
  }

  close() {
    return this.inner.close();
  }
}
