/**
 * Image input by drag & drop or file picker. Accepts the first PNG/JPEG/WebP file; anything
 * else is reported so the person knows why nothing happened.
 */
import { ACCEPTED_IMAGE_TYPES } from '../../../shared/protocol.ts';
import { h } from './dom.ts';

const accepted = ACCEPTED_IMAGE_TYPES as readonly string[];

function firstImage(files: FileList | null | undefined): File | null | 'wrong-type' {
  if (!files || files.length === 0) return null;
  for (const f of Array.from(files)) if (accepted.includes(f.type)) return f;
  return 'wrong-type';
}

/** Makes `target` a drop zone; `isEnabled` lets read-only pages ignore drops. */
export function bindImageDrop(target: HTMLElement, isEnabled: () => boolean, onFile: (f: File) => void, onReject: (msg: string) => void): void {
  let depth = 0;
  target.addEventListener('dragenter', (e) => {
    if (!isEnabled() || !e.dataTransfer?.types.includes('Files')) return;
    depth++;
    target.classList.add('drop-over');
    e.preventDefault();
  });
  target.addEventListener('dragover', (e) => {
    if (!isEnabled() || !e.dataTransfer?.types.includes('Files')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  });
  target.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) target.classList.remove('drop-over');
  });
  target.addEventListener('drop', (e) => {
    depth = 0;
    target.classList.remove('drop-over');
    if (!isEnabled()) return;
    e.preventDefault();
    e.stopPropagation();
    const f = firstImage(e.dataTransfer?.files);
    if (f === 'wrong-type') onReject('Drop a PNG, JPEG or WebP image.');
    else if (f) onFile(f);
  });
}

/** A button that opens the file picker for one image. */
export function imagePickerButton(label: string, onFile: (f: File) => void, onReject: (msg: string) => void): { button: HTMLButtonElement; input: HTMLInputElement } {
  const input = h('input', { type: 'file', accept: accepted.join(','), hidden: true });
  const button = h('button', { type: 'button', class: 'btn' }, label);
  button.addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    const f = firstImage(input.files);
    input.value = '';
    if (f === 'wrong-type') onReject('Choose a PNG, JPEG or WebP image.');
    else if (f) onFile(f);
  });
  button.appendChild(input);
  return { button, input };
}
