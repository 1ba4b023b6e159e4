export { buildProgram, runCli, VERSION } from './program.js';
export * from './common.js';
export { Progress } from './progress.js';
