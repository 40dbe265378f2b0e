/**
 * The engine's public surface: everything the session layer, the worker and the CLI use.
 * Import from here rather than from the individual modules.
 */
export * from './api.ts';
export { initBackend, activeBackend, availableBackendsReport, wasmThreadCount, type BackendProbe, type InitBackendOptions } from './platform/backend.ts';
export { loadNetwork, NETWORK_NAMES, DEFAULT_LAYERS, type NetworkName, type LoadNetworkOptions } from './networks/index.ts';
export {
  createStyleTransfer,
  SHIFT_SCHEDULE_LENGTH,
  type CreateStyleTransferOptions,
  type EngineStyleTransfer,
  type TransferCounters,
} from './transfer.ts';
export {
  PRESETS,
  PRESET_NAMES,
  getPreset,
  presetSuggestedParams,
  resolveLayers,
  suggestedLayers,
  validateInputs,
  type Preset,
  type PresetName,
} from './presets.ts';
export {
  runIterations,
  runCoarseToFine,
  pyramidResolutions,
  reconstructContent,
  synthesizeStyle,
  renderGrid,
  composeGrid,
  blankCanvas,
  type CoarseToFineOptions,
  type ExperimentSettings,
  type GridOptions,
  type GridResult,
  type RunResult,
  type StepCallback,
} from './modes.ts';
export { rgbToTensor, tensorToRgb, sizeForLongSide, resizeImage, noiseImage } from './tensor-image.ts';
export { StepInterrupted } from './interrupt.ts';
