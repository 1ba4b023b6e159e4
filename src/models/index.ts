export { buildModel, listModels } from './zoo.js';
export { ModelError } from './errors.js';
export type { BuildOptions, InputShape, TappedModel } from './types.js';
export { ZOO_LAYER_CLASSES } from './layers.js';
export { inspect } from './inspect.js';
export type { FeatureInspection, GroupInspection, LayerInspection, ModelInspection, OutputShape } from './inspect.js';
