/**
 * The style brush's bar under the toolbar (C98), shown while a style tool is in hand: which style
 * the brush paints (the gallery's style images, the chosen one marked), the regions painted so far
 * (each style with the people who painted it, in their presence colours), and "Clear regions".
 */
import { h, replaceChildren } from '../ui/dom.ts';
import { imageUrl } from '../net/api.ts';

export interface StyleChoice {
  imageId: string;
  name: string;
}

/** One painted style: who painted it (names and presence colours). */
export interface RegionLegendEntry extends StyleChoice {
  painters: { name: string; color: string }[];
}

export interface RegionBarActions {
  pick(imageId: string): void;
  clear(): void;
}

export class RegionBar {
  readonly el: HTMLElement;
  private readonly choices = h('span', { class: 'region-choices', role: 'listbox', 'aria-label': 'Style to paint' });
  private readonly legend = h('span', { class: 'region-legend', 'aria-label': 'Painted regions' });
  private readonly clearBtn = h('button', { type: 'button', class: 'btn', title: 'Remove every style region (undoable): the blend of all styles everywhere again' }, 'Clear regions');
  private items: StyleChoice[] = [];
  private chosen: string | undefined;
  private disabled = false;
  private key = '';

  constructor(private readonly actions: RegionBarActions) {
    this.clearBtn.addEventListener('click', () => !this.disabled && actions.clear());
    this.el = h('div', { class: 'toolbar region-bar', hidden: true, 'aria-label': 'Style brush' }, h('span', { class: 'muted' }, 'Paint:'), this.choices, this.legend, this.clearBtn);
  }

  setVisible(visible: boolean): void {
    this.el.hidden = !visible;
  }

  setDisabled(disabled: boolean): void {
    this.disabled = disabled;
    this.clearBtn.disabled = disabled;
    this.key = '';
    this.render();
  }

  /** The styles the brush can paint and the chosen one. */
  setChoices(items: readonly StyleChoice[], chosen: string | undefined): void {
    this.items = [...items];
    this.chosen = chosen;
    this.render();
  }

  setLegend(entries: readonly RegionLegendEntry[]): void {
    replaceChildren(
      this.legend,
      ...entries.map((e) =>
        h(
          'span',
          { class: 'region-entry', title: `${e.name}: painted by ${e.painters.map((p) => p.name).join(', ')}` },
          h('img', { src: imageUrl(e.imageId), alt: '' }),
          ...e.painters.map((p) => h('i', { class: 'swatch', style: { background: p.color } })),
        ),
      ),
    );
    this.clearBtn.hidden = entries.length === 0;
  }

  private render(): void {
    const key = `${this.items.map((i) => i.imageId).join(',')}|${this.chosen}|${this.disabled}`;
    if (key === this.key) return;
    this.key = key;
    replaceChildren(
      this.choices,
      ...this.items.map((it) => {
        const on = it.imageId === this.chosen;
        return h(
          'button',
          {
            type: 'button',
            class: `region-choice${on ? ' on' : ''}`,
            role: 'option',
            'aria-selected': String(on),
            title: `Paint ${it.name}`,
            disabled: this.disabled,
            'data-style': it.imageId,
            onclick: () => this.actions.pick(it.imageId),
          },
          h('img', { src: imageUrl(it.imageId), alt: it.name, draggable: 'false' }),
        );
      }),
    );
  }
}
