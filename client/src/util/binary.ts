/**
 * socket.io delivers binary as ArrayBuffer in browsers and Buffer in Node; y-protocols and the
 * frame decoder want a Uint8Array. One normaliser, so every receive path is the same.
 */
export function toUint8Array(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data) && data.every((n) => typeof n === 'number')) return Uint8Array.from(data);
  throw new TypeError(`expected binary data, got ${data === null ? 'null' : typeof data}`);
}
