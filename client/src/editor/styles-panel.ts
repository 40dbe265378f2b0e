/**
 * Style images, bound to `styles` in the shared document: a gallery of built-in presets
 * (`/api/presets`, kind 'style') and images uploaded in this session (button or drag & drop),
 * and the active styles, each with its blend weight and scale. Clicking a gallery image adds it
 * (or removes it if it is already active); up to MAX_STYLES at once.
 */
import { MAX_STYLES } from '../../../shared/schema.ts';
import { STYLE_RANGES } from '../../../shared/param-ranges.ts';
import type { PresetImage } from '../../../shared/protocol.ts';
import type { SessionDoc, StyleView } from '../doc/session-doc.ts';
import { h, replaceChildren } from '../ui/dom.ts';
import { linearSlider } from '../ui/controls.ts';
import { bindImageDrop, imagePickerButton } from '../ui/file-drop.ts';
import { imageUrl } from '../net/api.ts';
import { shortPresetName } from '../util/names.ts';

export interface StylesPanelDeps {
  sdoc: SessionDoc;
  upload(file: File): Promise<{ imageId: string }>;
  stopUndoCapture(): void;
  onError(e: unknown): void;
  canEdit(): boolean;
}

export class StylesPanel {
  readonly el: HTMLElement;
  private readonly gallery = h('div', { class: 'gallery', role: 'list' });
  private readonly active = h('div', { class: 'active-styles' });
  private readonly count = h('span', { class: 'muted' });
  private presets: PresetImage[] = [];
  private uploaded: string[] = [];
  private disabled = true;
  private activeKey = '';
  private galleryKey = '';
  private rows: Array<{ weight: ReturnType<typeof linearSlider>; scale: ReturnType<typeof linearSlider> }> = [];
  private readonly picker: { button: HTMLButtonElement; input: HTMLInputElement };

  constructor(private readonly deps: StylesPanelDeps) {
    const picker = imagePickerButton('Upload style…', (f) => this.uploadStyle(f), (m) => deps.onError(new Error(m)));
    picker.button.disabled = true;
    picker.input.disabled = true;
    this.picker = picker;
    this.el = h(
      'section',
      { class: 'panel styles-panel', 'aria-label': 'Styles' },
      h('h2', {}, 'Styles ', this.count),
      this.gallery,
      h('div', { class: 'row' }, picker.button, h('span', { class: 'hint' }, 'or drop an image here')),
      this.active,
    );
    bindImageDrop(this.el, () => deps.canEdit(), (f) => this.uploadStyle(f), (m) => deps.onError(new Error(m)));
  }

  setPresets(presets: PresetImage[]): void {
    this.presets = presets.filter((p) => p.kind === 'style');
    this.update();
  }

  setDisabled(disabled: boolean): void {
    this.disabled = disabled;
    this.picker.button.disabled = disabled;
    this.picker.input.disabled = disabled;
    this.el.classList.toggle('readonly', disabled);
    this.activeKey = '';
    this.update();
  }

  /** Re-renders from the document. Rows are rebuilt only when the set of styles changes. */
  update(): void {
    const styles = this.deps.sdoc.getStyles();
    this.count.textContent = `${styles.length}/${MAX_STYLES}`;
    this.renderGallery(styles);
    const key = styles.map((s) => `${s.index}:${s.imageId}`).join(',') + `|${this.disabled}`;
    if (key !== this.activeKey) {
      this.activeKey = key;
      this.rows = [];
      replaceChildren(this.active, ...styles.map((s, i) => this.styleRow(s, i)));
      if (!styles.length) this.active.appendChild(h('p', { class: 'muted' }, 'No style yet: pick one above.'));
    }
    styles.forEach((s, i) => {
      this.rows[i]?.weight.set(s.weight);
      this.rows[i]?.scale.set(s.scale);
    });
  }

  private renderGallery(styles: StyleView[]): void {
    const activeIds = new Set(styles.map((s) => s.imageId));
    // Rebuilding <img>s costs decodes and layout: only when what the gallery shows changed.
    const key = [this.presets.length, this.uploaded.join(','), [...activeIds].sort().join(','), styles.map((s) => s.imageId).join(','), this.disabled].join('|');
    if (key === this.galleryKey) return;
    this.galleryKey = key;
    const items: Array<{ imageId: string; name: string; credit?: string }> = this.presets.map((p) => ({
      imageId: p.imageId,
      name: shortPresetName(p.name, 'style'),
      credit: p.credit || p.name,
    }));
    for (const id of [...this.uploaded, ...styles.map((s) => s.imageId)]) {
      if (!items.some((i) => i.imageId === id)) items.push({ imageId: id, name: 'Uploaded image' });
    }
    replaceChildren(
      this.gallery,
      ...items.map((it) => {
        const on = activeIds.has(it.imageId);
        const b = h(
          'button',
          {
            type: 'button',
            class: `thumb${on ? ' on' : ''}`,
            role: 'listitem',
            title: `${it.credit ?? it.name}${on ? ' (active: click to remove)' : ''}`,
            'aria-pressed': on ? 'true' : 'false',
            disabled: this.disabled,
            onclick: () => this.toggle(it.imageId),
          },
          h('img', { src: imageUrl(it.imageId), alt: it.name, loading: 'lazy', draggable: 'false' }),
          h('span', { class: 'thumb-name' }, it.name),
        );
        return b;
      }),
    );
  }

  private styleRow(s: StyleView, i: number): HTMLElement {
    const weight = linearSlider(`style-${i}-weight`, 'Weight', STYLE_RANGES.weight, this.handlers(s.index, 'weight'));
    const scale = linearSlider(`style-${i}-scale`, 'Scale', { ...STYLE_RANGES.scale, format: (v) => `${v.toFixed(2)}x` }, this.handlers(s.index, 'scale'));
    weight.setDisabled(this.disabled);
    scale.setDisabled(this.disabled);
    this.rows[i] = { weight, scale };
    return h(
      'div',
      { class: 'style-row' },
      h('img', { src: imageUrl(s.imageId), alt: `style ${i + 1}` }),
      h('div', { class: 'style-controls' }, weight.el, scale.el),
      h('button', { type: 'button', class: 'icon-btn', title: 'Remove style', 'aria-label': `Remove style ${i + 1}`, disabled: this.disabled, onclick: () => this.remove(s.index) }, '×'),
    );
  }

  private handlers(index: number, key: 'weight' | 'scale') {
    const write = (v: number) => {
      try {
        this.deps.sdoc.updateStyle(index, { [key]: v });
      } catch (e) {
        this.deps.onError(e);
      }
    };
    return {
      onInput: write,
      onCommit: (v: number) => {
        write(v);
        this.deps.stopUndoCapture();
      },
    };
  }

  private toggle(imageId: string): void {
    if (!this.deps.canEdit()) return;
    const existing = this.deps.sdoc.getStyles().find((s) => s.imageId === imageId);
    try {
      if (existing) this.deps.sdoc.removeStyle(existing.index);
      else this.deps.sdoc.addStyle({ imageId, weight: 1, scale: 1 });
      this.deps.stopUndoCapture();
    } catch (e) {
      this.deps.onError(e);
    }
  }

  private remove(index: number): void {
    try {
      this.deps.sdoc.removeStyle(index);
      this.deps.stopUndoCapture();
    } catch (e) {
      this.deps.onError(e);
    }
  }

  private async uploadStyle(file: File): Promise<void> {
    if (!this.deps.canEdit()) return;
    this.el.classList.add('busy');
    try {
      const { imageId } = await this.deps.upload(file);
      if (!this.uploaded.includes(imageId)) this.uploaded.push(imageId);
      if (!this.deps.sdoc.getStyles().some((s) => s.imageId === imageId)) {
        this.deps.sdoc.addStyle({ imageId, weight: 1, scale: 1 });
        this.deps.stopUndoCapture();
      }
    } catch (e) {
      this.deps.onError(e);
    } finally {
      this.el.classList.remove('busy');
    }
  }
}
