/**
 * The optimization parameters, bound to `params` in the shared document: loss weights (log
 * sliders), optimizer, learning rate, resolution, pooling, colour mode, init, model, preset and
 * seed. Every control follows remote changes live; writes are validated by SessionDoc.
 */
import { MODEL_NAMES, PRESET_NAMES, type ParamKey, type Params } from '../../../shared/schema.ts';
import { COLOR_MODES, DOC_INIT_MODES, OPTIMIZER_NAMES } from '../../../shared/names.ts';
import { PARAM_RANGES, SEED_RANGE } from '../../../shared/param-ranges.ts';
import type { SessionDoc } from '../doc/session-doc.ts';
import { h } from '../ui/dom.ts';
import { logSlider, linearSlider, numberBox, selectControl, type BoundControl } from '../ui/controls.ts';
import { PARAM_LABELS } from '../doc/activity.ts';

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const opts = <T extends string>(values: readonly T[], labels: Record<T, string>) =>
  values.map((value) => ({ value, label: labels[value] }));

export class ParamsPanel {
  readonly el: HTMLElement;
  private readonly controls = new Map<ParamKey, BoundControl<never>>();

  constructor(
    private readonly sdoc: SessionDoc,
    private readonly stopUndoCapture: () => void,
    private readonly onError: (e: unknown) => void,
  ) {
    const write = <K extends ParamKey>(key: K) => ({
      onInput: (v: Params[K]) => this.write(key, v),
      onCommit: (v: Params[K]) => {
        this.write(key, v);
        this.stopUndoCapture();
      },
    });
    const add = <K extends ParamKey>(key: K, c: BoundControl<Params[K]>) => {
      this.controls.set(key, c as unknown as BoundControl<never>);
      return c.el;
    };
    const id = (k: string) => `param-${k}`;
    let seed = 0;
    const { box: seedBox, note: seedNote, show: showSeed } = numberBox('Seed', { ...SEED_RANGE, integer: true }, () => seed, (v) => this.commit('seed', v), {
      id: id('seed'),
      inputmode: 'numeric',
    }, String);
    const seedControl: BoundControl<number> = {
      el: h('div', { class: 'control-row' }, h('label', { for: id('seed') }, 'Seed'), seedBox, seedNote),
      set: (v) => {
        seed = v;
        showSeed(v);
      },
      setDisabled: (d) => (seedBox.disabled = d),
    };

    this.el = h(
      'section',
      { class: 'panel params-panel', 'aria-label': 'Parameters' },
      h('h2', {}, 'Parameters'),
      h(
        'div',
        { class: 'group' },
        add('contentWeight', logSlider(id('contentWeight'), cap(PARAM_LABELS.contentWeight), PARAM_RANGES.contentWeight, write('contentWeight'))),
        add('styleWeight', logSlider(id('styleWeight'), cap(PARAM_LABELS.styleWeight), PARAM_RANGES.styleWeight, write('styleWeight'))),
        add('tvWeight', logSlider(id('tvWeight'), PARAM_LABELS.tvWeight, PARAM_RANGES.tvWeight, write('tvWeight'))),
      ),
      h(
        'div',
        { class: 'group' },
        add('optimizer', selectControl(id('optimizer'), 'Optimizer', opts(OPTIMIZER_NAMES, { adam: 'Adam', lbfgs: 'L-BFGS' }), (v) => this.commit('optimizer', v))),
        add('learningRate', logSlider(id('learningRate'), 'Learning rate', PARAM_RANGES.learningRate, write('learningRate'))),
        add('resolution', linearSlider(id('resolution'), 'Resolution', { ...PARAM_RANGES.resolution, format: (v) => `${v}px` }, write('resolution'))),
        add('pooling', selectControl(id('pooling'), 'Pooling', opts(['avg', 'max'] as const, { avg: 'Average', max: 'Max' }), (v) => this.commit('pooling', v))),
        add(
          'colors',
          selectControl(
            id('colors'),
            'Color mode',
            opts(COLOR_MODES, { style: 'Style colors', luminance: 'Keep content colors (luminance)', histogram: 'Match histogram' }),
            (v) => this.commit('colors', v),
          ),
        ),
        add('init', selectControl(id('init'), 'Start from', opts(DOC_INIT_MODES, { content: 'Content image', noise: 'Noise' }), (v) => this.commit('init', v))),
      ),
      h(
        'div',
        { class: 'group' },
        add('model', selectControl(id('model'), 'Model', opts(MODEL_NAMES, { mobilenet_v2: 'MobileNet v2', inception_v3: 'Inception v3', vgg19: 'VGG19 (weights file)' }), (v) => this.commit('model', v))),
        add('preset', selectControl(id('preset'), 'Preset', opts(PRESET_NAMES, { default: 'Default', 'tf-tutorial': 'TF tutorial', gatys2015: 'Gatys 2015' }), (v) => this.commit('preset', v))),
        add('seed', seedControl),
      ),
    );
  }

  /** Shows the document's current values. */
  update(params: Params): void {
    for (const [key, c] of this.controls) (c as unknown as BoundControl<unknown>).set(params[key]);
  }

  setDisabled(disabled: boolean): void {
    for (const c of this.controls.values()) c.setDisabled(disabled);
  }

  private write<K extends ParamKey>(key: K, value: Params[K]): void {
    try {
      this.sdoc.setParam(key, value);
    } catch (e) {
      this.onError(e);
    }
  }

  private commit<K extends ParamKey>(key: K, value: Params[K]): void {
    this.write(key, value);
    this.stopUndoCapture();
  }
}
