/**
 * Every loss of the toolkit as a pure function of tensors (float32), one file per family; exported by the package as
 * `losses.*`. Each returns a scalar tensor (batch means unless the formula says otherwise) and disposes its
 * intermediates.
 *
 * Conventions:
 * - Logits are [B, C]; labels are int32 [B] (a tensor, an Int32Array or a number array).
 * - Feature maps are NHWC; pooled features / embeddings are [B, D].
 * - The second tensor argument is the teacher's and never receives a gradient (`stopGradient`: nothing is recorded
 *   on the tape). Exception: CRD, whose teacher *embedding head* is trained by the loss (see crd.ts).
 * - Contrastive views (CDS): `supConLoss2N(z [2N, D], labels [N])`, rows j and j + N are the two views of image j;
 *   `supConLoss(features [N, V, D], labels [N])` is the same loss on the unflattened layout. A label of -1 marks an
 *   unlabelled image (semi-supervised CDS: its positive is its other view only); no labels at all = SimCLR.
 */
export { crossEntropy, softTargetCrossEntropy, kdLoss, dkdLoss } from './logits.js';
export type { CrossEntropyOptions, KdOptions, DkdOptions } from './logits.js';
export { supConLoss, supConLoss2N, crossModelInfoNce } from './contrastive.js';
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
