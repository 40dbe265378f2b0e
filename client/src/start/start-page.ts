/**
 * The start page (`/`): create a session, join one by pasting its link, reopen a recent one,
 * and set the name others see.
 */
import { createSession, ApiError } from '../net/api.ts';
import { joinPathFromInput } from '../route.ts';
import { loadRecent, rememberSession, forgetSession, type RecentSession } from './recent-sessions.ts';
import { h, replaceChildren, toast } from '../ui/dom.ts';
import { getMyName, setMyName } from '../util/identity.ts';
import { colorForName } from '../util/color.ts';

function pathOf(url: string): string {
  const u = new URL(url, location.origin);
  return u.pathname + u.search;
}

export function mountStart(root: HTMLElement): void {
  const nameInput = h('input', { id: 'name', type: 'text', maxlength: '64', value: getMyName(), autocomplete: 'nickname' });
  const swatch = h('i', { class: 'swatch', style: { background: colorForName(getMyName()) } });
  nameInput.addEventListener('change', () => {
    nameInput.value = setMyName(nameInput.value);
    swatch.style.background = colorForName(nameInput.value);
  });

  const createBtn = h('button', { type: 'button', class: 'btn primary big' }, 'New session');
  createBtn.addEventListener('click', async () => {
    createBtn.disabled = true;
    try {
      const s = await createSession();
      const editorPath = pathOf(s.editorUrl);
      localStorage.setItem(`atelier.viewer.${s.id}`, pathOf(s.viewerUrl));
      rememberSession(localStorage, { id: s.id, path: editorPath, role: 'editor', lastOpened: Date.now(), createdHere: true });
      location.assign(editorPath);
    } catch (e) {
      toast(e instanceof ApiError ? e.message : `Could not create a session: ${(e as Error).message}`, 'error');
      createBtn.disabled = false;
    }
  });

  // type=text, not url: the browser's URL check would refuse "hey join me: <link>" and links
  // without a host, which C2 accepts.
  const joinInput = h('input', { id: 'join', type: 'text', inputmode: 'url', placeholder: 'Paste a session link…', autocomplete: 'off', spellcheck: 'false', 'aria-label': 'Session link' });
  const joinForm = h('form', { class: 'join-form' }, joinInput, h('button', { type: 'submit', class: 'btn' }, 'Join'));
  joinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const path = joinPathFromInput(joinInput.value);
    if (!path) {
      joinInput.classList.add('invalid');
      toast('That does not look like an Atelier session link (…/s/<id>?token=…).', 'error');
      return;
    }
    location.assign(path);
  });
  joinInput.addEventListener('input', () => joinInput.classList.remove('invalid'));

  const recentList = h('ul', { class: 'recent' });
  const renderRecent = (list: RecentSession[]) => {
    replaceChildren(
      recentList,
      ...list.map((r) =>
        h(
          'li',
          {},
          h('a', { href: r.path }, h('span', { class: 'rid' }, r.id), h('span', { class: `role role-${r.role}` }, r.role === 'unknown' ? '' : r.role)),
          h('time', { class: 'muted', datetime: new Date(r.lastOpened).toISOString() }, new Date(r.lastOpened).toLocaleString()),
          h('button', { type: 'button', class: 'icon-btn', title: 'Forget', 'aria-label': `Forget session ${r.id}`, onclick: () => renderRecent(forgetSession(localStorage, r.id)) }, '×'),
        ),
      ),
    );
    if (!list.length) recentList.appendChild(h('li', { class: 'muted' }, 'Sessions you open appear here.'));
  };
  renderRecent(loadRecent(localStorage));

  root.replaceChildren(
    h(
      'div',
      { class: 'start' },
      h(
        'header',
        { class: 'hero' },
        h('h1', {}, 'Atelier'),
        h('p', { class: 'lede' }, 'Paint together and watch a neural network repaint it, live. One shared canvas, any number of browsers, a style-transfer optimization running on the server.'),
      ),
      h(
        'div',
        { class: 'cards' },
        h('section', { class: 'card' }, h('h2', {}, 'Start'), h('p', { class: 'muted' }, 'You get an editor link to share with co-painters and a view-only link for a projector.'), createBtn, h('div', { class: 'name-row' }, h('label', { for: 'name' }, 'Your name'), swatch, nameInput)),
        h('section', { class: 'card' }, h('h2', {}, 'Join'), h('p', { class: 'muted' }, 'Got a link from someone? Paste it here.'), joinForm),
        h('section', { class: 'card wide' }, h('h2', {}, 'Recent sessions'), recentList),
      ),
    ),
  );
}

export { rememberSession };
