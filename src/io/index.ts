export { ModelFileError } from './errors.js';
export {
  MAX_ELEMENTS,
  checkLayerClasses,
  exists,
  fileSystemHandler,
  loadModelArtifacts,
  readModelJSON,
  replaceDirectory,
  resolveModelLocation,
  stagingDirFor,
  writeFileAtomic,
} from './fs-handler.js';
export type { FileSystemHandlerOptions, ModelLocation } from './fs-handler.js';
export { loadGraphModelFromDir, loadLayersModelFromDir } from './load.js';
export type { LoadLayersOptions } from './load.js';
export { isKeras3Topology, keras3ModelJSONToKeras2, keras3TopologyToKeras2, keras3WeightName, Keras3LayoutError } from './keras3.js';
