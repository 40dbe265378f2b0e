/**
 * Shared fixtures for the engine-core tests: the cpu backend, deterministic synthetic images and
 * a complete TransferParams with small, fast defaults.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RgbImage, TransferParams } from '../api.ts';
import { initBackend } from '../platform/backend.ts';
import { seededRandom } from '../tensor-image.ts';

/** Activates tfjs' plain-JS `cpu` backend (deterministic, available everywhere). */
export async function useCpuBackend(): Promise<void> {
  await initBackend('cpu');
  if (tf.getBackend() !== 'cpu') throw new Error('cpu backend did not activate');
}

/**
 * A deterministic image: smooth colour gradients plus seeded noise and a few flat blocks, so it
 * has colour structure, texture and exact-zero neighbour differences.
 */
export function syntheticImage(width: number, height: number, seed: number): RgbImage {
  const rand = seededRandom(seed);
  const data = new Uint8Array(width * height * 3);
  const phase = [rand() * 6, rand() * 6, rand() * 6];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const flat = (x >> 3) % 3 === 0 && (y >> 3) % 2 === 0;
      for (let c = 0; c < 3; c++) {
        const base = 127 + 90 * Math.sin(phase[c] + (x * (c + 1)) / width * 3 + (y * (3 - c)) / height * 2);
        const v = flat ? 40 + 60 * c : base + (rand() - 0.5) * 60;
        data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { width, height, data };
}

/**
 * TransferParams for tests: default preset, Adam, 32 px, content init, on pixels without random
 * shifts (so a step's reported losses are those `evaluate()` gives, E13); tests of the
 * parameterizations and shifts (E23–E25) ask for them explicitly.
 */
export function testParams(overrides: Partial<TransferParams> = {}): TransferParams {
  return {
    preset: 'default',
    contentWeight: 1,
    styleWeight: 1,
    tvWeight: 1,
    optimizer: 'adam',
    learningRate: 0.02,
    resolution: 32,
    pooling: 'avg',
    colors: 'style',
    init: 'content',
    seed: 1,
    parameterization: 'pixels',
    jitter: 0,
    ...overrides,
  };
}
