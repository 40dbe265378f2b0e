/**
 * Entry point: picks the page for the current URL. Pages are loaded on demand so the start page
 * does not download PixiJS.
 */
import { parseRoute } from './route.ts';
import { h } from './ui/dom.ts';
import { TEST_HOOKS, setTestHook } from './test-hooks.ts';

/** Unmounts the mounted page, where it has an unmount (the editor). */
let unmountPage: (() => void) | undefined;

async function boot(): Promise<void> {
  const root = document.getElementById('app')!;
  const route = parseRoute(location.pathname, location.search);
  try {
    switch (route.page) {
      case 'start': {
        const { mountStart } = await import('./start/start-page.ts');
        document.title = 'Atelier';
        return mountStart(root);
      }
      case 'editor': {
        const { mountEditor } = await import('./editor/editor-page.ts');
        document.title = `Atelier · ${route.session}`;
        unmountPage = await mountEditor(root, route.session, route.token);
        return;
      }
      case 'projector': {
        const { mountProjector } = await import('./projector/projector-page.ts');
        document.title = `Atelier · ${route.session} · projector`;
        return await mountProjector(root, route.session, route.token, route.overlay);
      }
      case 'replay': {
        const { mountReplay } = await import('./replay/replay-page.ts');
        document.title = `Atelier · ${route.session} · replay`;
        return await mountReplay(root, route.session, route.token);
      }
      case 'not-found':
        return showMessage(root, route.reason, '/');
    }
  } catch (e) {
    console.error(e);
    showMessage(root, `Something went wrong while starting: ${(e as Error).message}`, '/');
  }
}

function showMessage(root: HTMLElement, message: string, back: string): void {
  root.replaceChildren(h('div', { class: 'message-page' }, h('h1', {}, 'Atelier'), h('p', {}, message), h('a', { href: back, class: 'btn' }, 'Go back')));
}

void boot();

// Tests mount, unmount and mount the page again to check that it leaks nothing (e2e/teardown.e2e.ts).
if (TEST_HOOKS) {
  setTestHook('atelierApp', {
    mount: () => boot(),
    unmount: () => {
      unmountPage?.();
      unmountPage = undefined;
    },
  });
}
