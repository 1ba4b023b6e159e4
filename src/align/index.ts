export { matchStages, describeMatch } from './stages.js';
export type { StageMatch } from './stages.js';
export { linearAdapter, channelAdapter, convRegressor } from './adapters.js';
