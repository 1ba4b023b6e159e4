/**
 * The model zoo: the CIFAR distillation-benchmark architectures (RepDistiller names and parameter counts) plus the
 * CDS ResNet18-CIFAR, built as tapped tfjs LayersModels with outputs [...features, pooled, logits].
 *
 * Layer names (stable; teachers are located by them):
 *   input                                   the input layer
 *   stem_conv, stem_bn, stem_relu           the stem (feature 0); VGG's block0: stem_conv1, stem_bn1, stem_relu1, ...
 *   stage{s}_block{b}_{conv|bn|relu}{i}     layer i of block b of stage s (1-based); stage s = feature s
 *   stage{s}_block{b}_shortcut_{conv|bn|pool}, _add / _concat, _relu   shortcut, merge and block output
 *   stage{s}_block{b}_split1|split2|shuffle ShuffleNet channel split / shuffle; ShuffleV2 down unit: stage{s}_down_*
 *   stage{s}_pool, stage{s}_conv{i}         VGG: the max-pool entering stage s, its convs
 *   *_pad                                   explicit symmetric zero padding before a strided 3x3 conv / pool
 *   head_{conv|bn|relu}, head_pool, head_fc layers after the last stage, the pooled feature, the classifier
 */
export { buildModel, listModels, modelRecipe } from './zoo.js';
export { ModelError } from './errors.js';
export type { BuildOptions, InputShape, TappedModel } from './types.js';
export { inspect, inspectGraph, STAGE_CANDIDATE_OPS } from './inspect.js';
export type { FeatureInspection, GroupInspection, LayerInspection, ModelInspection, OutputShape } from './inspect.js';
export type { GraphInspection, GraphStageCandidate, GraphTensorInfo } from './inspect.js';
export { ZOO_LAYER_CLASSES } from './layers.js';
export { denseLogits, graphLogitsNode, graphNodeBaseName, layersLogitsSource, logitsPredictor } from './logits.js';
export type { GraphNodeInfo, LayersLogitsSource, LogitsPredictor } from './logits.js';
