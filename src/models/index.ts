export { buildModel, listModels } from './zoo.js';
export { ModelError } from './errors.js';
export type { BuildOptions, InputShape, TappedModel } from './types.js';
export { ZOO_LAYER_CLASSES } from './layers.js';
