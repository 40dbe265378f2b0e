/**
 * Styles of the replay page, injected once when the page mounts (the global stylesheet belongs to
 * the editor; this page only adds its own classes, all prefixed `replay-`).
 */
const CSS = `
.replay { display: flex; flex-direction: column; height: 100vh; min-height: 0; }
.replay-tag { font-size: 12px; padding: 2px 8px; border-radius: 999px; background: #2a2217; color: var(--accent); border: 1px solid #4a3a22; }
.replay-main { flex: 1; display: grid; grid-template-columns: 1fr 1fr 300px; gap: 12px; padding: 12px; min-height: 0; }
.replay-stage { display: flex; flex-direction: column; min-width: 0; min-height: 0; background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); overflow: hidden; }
.replay-stage h2, .replay-side h2 { margin: 0; padding: 8px 12px; font-size: 13px; font-weight: 600; color: var(--muted); border-bottom: 1px solid var(--line); display: flex; gap: 8px; align-items: baseline; }
.replay-stage h2 .replay-sub { font-weight: 400; font-variant-numeric: tabular-nums; margin-left: auto; }
.replay-view { flex: 1; display: flex; align-items: center; justify-content: center; min-height: 0; padding: 10px; background: #0c0d10; }
.replay-view canvas, .replay-view img { width: 100%; height: 100%; min-height: 0; object-fit: contain; image-rendering: auto; }
.replay-view img[hidden] { display: none; }
.replay-empty { color: var(--muted); font-size: 13px; }
.replay-side { display: flex; flex-direction: column; gap: 12px; min-height: 0; }
.replay-box { background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); display: flex; flex-direction: column; min-height: 0; }
.replay-box.grow { flex: 1; }
.replay-params { display: grid; grid-template-columns: auto 1fr; gap: 3px 12px; padding: 8px 12px; font-size: 12.5px; }
.replay-params dt { color: var(--muted); }
.replay-params dd { margin: 0; font-variant-numeric: tabular-nums; text-align: right; }
.replay-params dd.changed { color: var(--accent); font-weight: 600; }
.replay-styles { display: flex; gap: 6px; padding: 8px 12px; flex-wrap: wrap; }
.replay-styles figure { margin: 0; position: relative; }
.replay-styles img { width: 52px; height: 52px; object-fit: cover; border-radius: 6px; border: 1px solid var(--line); display: block; }
.replay-styles figcaption { position: absolute; bottom: 2px; right: 3px; font-size: 10px; background: rgba(0,0,0,.65); padding: 0 3px; border-radius: 3px; }
.replay-activity { list-style: none; margin: 0; padding: 4px 0; overflow-y: auto; flex: 1; min-height: 80px; font-size: 12.5px; }
.replay-activity li { display: grid; grid-template-columns: 10px auto 1fr; gap: 4px 8px; padding: 4px 12px; cursor: pointer; align-items: baseline; }
.replay-activity li:hover { background: #20232a; }
.replay-activity li.current { background: #2a2217; }
.replay-activity li.future { opacity: .45; }
.replay-activity .dot { width: 10px; height: 10px; border-radius: 50%; align-self: center; }
.replay-activity .who { font-weight: 600; white-space: nowrap; }
.replay-activity .what { color: var(--text); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.replay-activity .when { grid-column: 2 / 4; color: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
.replay-transport { display: flex; flex-direction: column; gap: 6px; padding: 8px 12px 12px; border-top: 1px solid var(--line); background: var(--panel); }
.replay-controls { display: flex; gap: 10px; align-items: center; }
.replay-controls .replay-time { font-variant-numeric: tabular-nums; color: var(--muted); font-size: 13px; }
.replay-controls .replay-time b { color: var(--text); font-weight: 600; }
.replay-play { min-width: 44px; }
.replay-track { width: 100%; display: block; border-radius: 6px; cursor: pointer; touch-action: none; }
.replay-legend { display: flex; gap: 12px; flex-wrap: wrap; font-size: 12px; color: var(--muted); }
.replay-legend span { display: inline-flex; gap: 5px; align-items: center; }
.replay-legend i { width: 10px; height: 10px; border-radius: 2px; display: inline-block; }
.replay-export { display: inline-flex; gap: 6px; align-items: center; }
.replay-export select { background: #20232a; border: 1px solid var(--line); border-radius: 6px; padding: 5px 6px; }
.replay-export progress { width: 90px; }
.replay-export a { color: var(--accent); }
.replay-track:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.replay-controls { flex-wrap: wrap; }
/* Narrower than three columns: the page scrolls as a document (in a screen-high page the boxes
   were squeezed below their content and overlapped), the views get a share of the width, and
   the transport with the timeline moves up under the header, next to the canvas it scrubs. */
@media (max-width: 1100px) {
  .replay { height: auto; min-height: 100vh; }
  .replay-main { flex: none; grid-template-columns: 1fr 1fr; }
  .replay-side { grid-column: 1 / 3; min-height: auto; }
  .replay-view { flex: none; height: clamp(200px, 34vw, 460px); }
  .replay-box, .replay-box.grow { flex: none; min-height: auto; }
  .replay-activity { flex: none; max-height: 320px; }
  .replay-transport { order: 1; border-top: 0; border-bottom: 1px solid var(--line); }
  .replay-main { order: 2; }
}
@media (max-width: 700px) {
  .replay-main { grid-template-columns: 1fr; }
  .replay-side { grid-column: auto; }
  .replay-view { height: clamp(200px, 64vw, 460px); }
  .replay-export select { max-width: 46vw; }
}
`;

let injected = false;

export function injectReplayStyles(): void {
  if (injected) return;
  injected = true;
  const style = document.createElement('style');
  style.dataset.owner = 'replay';
  style.textContent = CSS;
  document.head.appendChild(style);
}
