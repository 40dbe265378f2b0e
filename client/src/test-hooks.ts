/**
 * Test hooks: globals such as `window.atelier` (the editor's connection, document and views) that
 * the e2e suite and the screenshot scripts read instead of scraping pixels. They exist only in
 * test builds (`npm run build:client:test`, i.e. `vite build --mode test`; also the dev server):
 * client/vite.config.ts defines `__ATELIER_TEST_HOOKS__` as a literal, so in a production build
 * every `if (TEST_HOOKS)` block is dropped by the minifier (scripts/client-build.test.ts checks the bundle).
 * Under Node (unit tests) the constant is undefined and the hooks are off.
 */
declare const __ATELIER_TEST_HOOKS__: boolean | undefined;

export const TEST_HOOKS: boolean = typeof __ATELIER_TEST_HOOKS__ !== 'undefined' && __ATELIER_TEST_HOOKS__;

/** Sets (or, with `undefined`, removes) the global `name`. Call only inside `if (TEST_HOOKS)`. */
export function setTestHook(name: string, value: unknown): void {
  const w = window as unknown as Record<string, unknown>;
  if (value === undefined) delete w[name];
  else w[name] = value;
}
