// Worker entry of FakeEngineHost (fake-engine.ts): Node 20 workers do not pick up `--import tsx`
// reliably, so the TypeScript worker is loaded through tsx's API (as the engine worker is).
import { tsImport } from 'tsx/esm/api';

await tsImport('./fake-engine-worker.ts', import.meta.url);
