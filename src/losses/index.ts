/**
 * Every loss of the toolkit as a pure function of tensors (float32), one file per family; exported by the package as
 * `losses.*`. Teacher-side inputs never receive a gradient (except CRD's teacher embedding, see crd.ts).
 */
export { crossEntropy, softTargetCrossEntropy, kdLoss, dkdLoss } from './logits.js';
export type { CrossEntropyOptions, KdOptions, DkdOptions } from './logits.js';
export { supConLoss, supConLoss2N } from './contrastive.js';
export type { SupConOptions, SupCon2NOptions } from './contrastive.js';
export {
  featureL2,
  fitnetLoss,
  attentionTransferLoss,
  similarityPreservingLoss,
  adaptiveAvgPool,
} from './feature.js';
export type { AttentionTransferOptions } from './feature.js';
export { rkdLoss, pktLoss } from './relation.js';
export type { RkdOptions, PktOptions } from './relation.js';
export { deepSupervisionLoss } from './deep-supervision.js';
export type { DeepSupervisionOptions } from './deep-supervision.js';
export { CrdMemoryBank, crdLoss } from './crd.js';
export type { CrdMemoryOptions, CrdMemoryState, CrdLossOptions } from './crd.js';
export { stopGradient } from './util.js';
export type { LabelsLike } from './util.js';
