/**
 * Child-process probe for backend parity tests: runs a few optimisation steps of one network on
 * one backend and prints the loss terms and image statistics as one JSON line.
 *
 *   node --import tsx server/engine/testing/step-trace.ts <backend> <network> <size> <steps>
 *
 * Exit code 3 (with the reason on stdout) when the backend cannot start here, e.g. no WebGPU
 * adapter. A separate process per backend because tfjs keeps one active backend per process and
 * the WebGPU device lives as long as the process.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createStyleTransfer, initBackend, loadNetwork, presetSuggestedParams, type BackendName, type NetworkName } from '../index.ts';
import { syntheticImage } from './helpers.ts';

const [backend, network, size, steps] = [process.argv[2] as BackendName, process.argv[3] as NetworkName, Number(process.argv[4] ?? 64), Number(process.argv[5] ?? 3)];
try {
  await initBackend(backend);
} catch (err) {
  console.log(JSON.stringify({ unavailable: (err as Error).message }));
  process.exit(3);
}
const net = await loadNetwork(network);
const params = { ...presetSuggestedParams('default'), resolution: size, optimizer: 'adam' as const, init: 'content' as const, seed: 1 };
const transfer = createStyleTransfer(net, {
  content: syntheticImage(size, size, 1),
  styles: [{ image: syntheticImage(size, size, 2), weight: 1, scale: 1 }],
  params,
});
const losses = [];
for (let i = 0; i < steps; i++) losses.push((await transfer.step()).losses);
const x = transfer.snapshot();
const [mean, absMean] = await Promise.all([tf.mean(x).data(), tf.mean(tf.abs(x)).data()]);
console.log(JSON.stringify({ backend: tf.getBackend(), losses, mean: mean[0], absMean: absMean[0] }));
process.exit(0);
