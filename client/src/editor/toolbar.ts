/**
 * Painting and content tools above the canvas: brush/eraser, the style brush (with its style's
 * thumbnail as swatch) and its eraser, the style-region overlay toggle, size, colour, opacity,
 * clear (undoable), undo/redo, content photo (upload, built-in photos, blank canvas with background).
 */
import type { PresetImage } from '../../../shared/protocol.ts';
import { h, replaceChildren } from '../ui/dom.ts';
import { imagePickerButton } from '../ui/file-drop.ts';
import { isRegionTool, type BrushSettings, type Tool } from './painter.ts';
import { imageUrl } from '../net/api.ts';
import { shortPresetName } from '../util/names.ts';

export interface ToolbarActions {
  brushChanged(b: BrushSettings): void;
  /** The region overlay was shown or hidden (C99). */
  regionsShown(shown: boolean): void;
  clear(): void;
  undo(): void;
  redo(): void;
  uploadContent(file: File): void;
  useContentPreset(p: PresetImage): void;
  blankContent(background: string): void;
  reject(message: string): void;
}

export class Toolbar {
  readonly el: HTMLElement;
  readonly contentBar: HTMLElement;
  private brush: BrushSettings;
  private readonly brushBtn = h('button', { type: 'button', class: 'tool on', title: 'Brush (B)', 'aria-pressed': 'true' }, 'Brush');
  private readonly eraserBtn = h('button', { type: 'button', class: 'tool', title: 'Eraser (E)', 'aria-pressed': 'false' }, 'Eraser');
  private readonly styleSwatch = h('img', { class: 'style-swatch', alt: '', hidden: true, draggable: 'false' });
  private readonly styleBtn = h('button', { type: 'button', class: 'tool style-tool', title: 'Style brush (S): paint where the chosen style goes', 'aria-pressed': 'false' }, this.styleSwatch, 'Style');
  private readonly styleEraserBtn = h('button', { type: 'button', class: 'tool', title: 'Style eraser (Shift+S): give the area back to the blend of all styles', 'aria-pressed': 'false' }, 'Unstyle');
  private readonly regionsBtn = h('button', { type: 'button', class: 'tool regions-toggle on', title: 'Show or hide the style regions (R)', 'aria-pressed': 'true' }, 'Regions');
  private regionsShown = true;
  private readonly size = h('input', { type: 'range', min: '1', max: '256', step: '1', class: 'slider', 'aria-label': 'Brush size', title: 'Size ([ and ])' });
  private readonly sizeOut = h('output', { class: 'num readout' });
  private readonly color = h('input', { type: 'color', 'aria-label': 'Brush color' });
  private readonly opacity = h('input', { type: 'range', min: '0.05', max: '1', step: '0.05', class: 'slider', 'aria-label': 'Opacity' });
  private readonly undoBtn = h('button', { type: 'button', class: 'btn', title: 'Undo my last change (Ctrl+Z)' }, '↶ Undo');
  private readonly redoBtn = h('button', { type: 'button', class: 'btn', title: 'Redo (Shift+Ctrl+Z)' }, '↷ Redo');
  private readonly clearBtn = h('button', { type: 'button', class: 'btn danger', title: 'Remove all strokes (undoable)' }, 'Clear');
  private readonly presetsEl = h('span', { class: 'content-presets' });
  private readonly background = h('input', { type: 'color', value: '#ffffff', 'aria-label': 'Background color', title: 'Blank canvas background' });
  private readonly blankBtn = h('button', { type: 'button', class: 'btn', title: 'Blank canvas of the background color' }, 'Blank');
  private readonly uploadBtn: HTMLButtonElement;
  /** Read-only (a viewer, or not yet confirmed as editor): also applies to presets that arrive later. */
  private disabled = false;

  constructor(initial: BrushSettings, private readonly actions: ToolbarActions) {
    this.brush = { ...initial };
    this.brushBtn.addEventListener('click', () => this.setTool('brush'));
    this.eraserBtn.addEventListener('click', () => this.setTool('eraser'));
    this.styleBtn.addEventListener('click', () => this.setTool('style'));
    this.styleEraserBtn.addEventListener('click', () => this.setTool('style-eraser'));
    this.regionsBtn.addEventListener('click', () => this.showRegions(!this.regionsShown));
    this.size.addEventListener('input', () => this.patch({ size: Number(this.size.value) }));
    this.color.addEventListener('input', () => this.patch({ color: this.color.value, tool: 'brush' }));
    this.opacity.addEventListener('input', () => this.patch({ opacity: Number(this.opacity.value) }));
    this.undoBtn.addEventListener('click', () => actions.undo());
    this.redoBtn.addEventListener('click', () => actions.redo());
    this.clearBtn.addEventListener('click', () => actions.clear());
    this.blankBtn.addEventListener('click', () => actions.blankContent(this.background.value));
    const picker = imagePickerButton('Upload photo…', (f) => actions.uploadContent(f), (m) => actions.reject(m));
    this.uploadBtn = picker.button;
    this.el = h(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Painting tools' },
      h('span', { class: 'seg' }, this.brushBtn, this.eraserBtn),
      h('span', { class: 'seg' }, this.styleBtn, this.styleEraserBtn, this.regionsBtn),
      h('label', { class: 'inline' }, 'Size', this.size, this.sizeOut),
      h('label', { class: 'inline' }, 'Color', this.color),
      h('label', { class: 'inline' }, 'Opacity', this.opacity),
      h('span', { class: 'seg' }, this.undoBtn, this.redoBtn),
      this.clearBtn,
    );
    this.contentBar = h(
      'div',
      { class: 'toolbar content-bar', 'aria-label': 'Content image' },
      h('span', { class: 'muted' }, 'Content:'),
      this.uploadBtn,
      this.presetsEl,
      h('span', { class: 'seg' }, this.blankBtn, this.background),
      h('span', { class: 'hint' }, 'or drop a photo on the canvas'),
    );
    this.render();
  }

  get settings(): BrushSettings {
    return { ...this.brush };
  }

  setTool(tool: Tool): void {
    this.patch({ tool });
  }

  /** The style the style brush paints (C98); its thumbnail becomes the tool's swatch. */
  setStyle(style: string | undefined): void {
    this.patch({ style });
  }

  /** Shows or hides the style regions over the canvas (C99). */
  showRegions(shown: boolean): void {
    this.regionsShown = shown;
    this.regionsBtn.classList.toggle('on', shown);
    this.regionsBtn.setAttribute('aria-pressed', String(shown));
    this.actions.regionsShown(shown);
  }

  get regionsVisible(): boolean {
    return this.regionsShown;
  }

  setSize(size: number): void {
    this.patch({ size });
  }

  setContentPresets(presets: PresetImage[]): void {
    replaceChildren(
      this.presetsEl,
      ...presets
        .filter((p) => p.kind === 'content')
        .map((p) => {
          const b = h('button', { type: 'button', class: 'chip', title: p.credit || p.name, disabled: this.disabled }, shortPresetName(p.name, 'content'));
          b.addEventListener('click', () => !this.disabled && this.actions.useContentPreset(p));
          return b;
        }),
    );
  }

  setBackground(hex: string): void {
    if (document.activeElement !== this.background) this.background.value = hex;
  }

  setUndoState(canUndo: boolean, canRedo: boolean, editable: boolean): void {
    this.undoBtn.disabled = !editable || !canUndo;
    this.redoBtn.disabled = !editable || !canRedo;
  }

  setDisabled(disabled: boolean): void {
    this.disabled = disabled;
    this.contentBar.classList.toggle('readonly', disabled);
    for (const el of this.el.querySelectorAll('button, input')) (el as HTMLInputElement).disabled = disabled;
    for (const el of this.contentBar.querySelectorAll('button, input')) (el as HTMLInputElement).disabled = disabled;
  }

  private patch(p: Partial<BrushSettings>): void {
    this.brush = { ...this.brush, ...p };
    this.render();
    this.actions.brushChanged(this.settings);
  }

  private render(): void {
    for (const [btn, tool] of [
      [this.brushBtn, 'brush'],
      [this.eraserBtn, 'eraser'],
      [this.styleBtn, 'style'],
      [this.styleEraserBtn, 'style-eraser'],
    ] as const) {
      btn.classList.toggle('on', this.brush.tool === tool);
      btn.setAttribute('aria-pressed', String(this.brush.tool === tool));
    }
    const style = this.brush.style;
    this.styleSwatch.hidden = !style;
    if (style && this.styleSwatch.dataset.style !== style) {
      this.styleSwatch.dataset.style = style;
      this.styleSwatch.src = imageUrl(style);
    }
    // The colour and opacity are the content brush's; the style brush paints a style, not a colour.
    const region = isRegionTool(this.brush.tool);
    this.color.closest('label')?.classList.toggle('muted-off', region);
    this.opacity.closest('label')?.classList.toggle('muted-off', region);
    this.size.value = String(this.brush.size);
    this.sizeOut.textContent = `${this.brush.size}px`;
    this.color.value = this.brush.color;
    this.opacity.value = String(this.brush.opacity);
  }
}
