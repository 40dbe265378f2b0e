// Worker entry: Node 20 workers do not pick up `--import tsx` reliably, so load the TypeScript
// worker through tsx's API (its imports are then resolved by tsx as well).
import { tsImport } from 'tsx/esm/api';

await tsImport('./engine-worker.ts', import.meta.url);
