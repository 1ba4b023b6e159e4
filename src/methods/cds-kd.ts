/**
 * CDS-KD (Zhang et al., "Contrastive Deep Supervision", ECCV 2022, section on knowledge distillation): the student is
 * trained with CDS on its own stages while each stage's projection is aligned with the frozen teacher's and its
 * logits follow the teacher's soft targets:
 *   CE(view 1) + 0.1 sum_i SupCon(z_i^s) + 0.1 sum_i ||z_i^t - A_i(z_i^s)||_2 + softTargetCE(s, t, T = 3) on view 1.
 * A_i is a linear adaptation layer where widths differ (identity otherwise). A teacher without projection heads is
 * aligned on its L2-normalised, average-pooled stage features. `alignment: 'contrastive'` replaces the L2 term with a
 * cross-model InfoNCE at T = 0.07: the student's projection of an image is pulled to the teacher's projection of the
 * same image against the teacher's projections of the other images in the batch. View 1 (the one CE and the soft
 * targets see) has a cutout hole of `cutout` x the image side, 0.5 as published; `cutout: 0` drops it (the demo's choice
 * at 300 steps, where the hole costs about five points: results/demo-ablation/).
 */
import { tf } from '../runtime/tf.js';
import { crossModelInfoNce, featureL2, softTargetCrossEntropy, stopGradient, supConLoss2N } from '../losses/index.js';
import { l2Normalize } from '../losses/util.js';
import { linearAdapter, matchStages } from '../align/index.js';
import type { StageMatch } from '../align/index.js';
import { cdsViewRecipes, firstView, numberOption, stringOption, sumOver, supervisedCrossEntropy, weighted } from './common.js';
import { CDS_CUTOUT } from '../data/augment.js';
import { MethodError } from './errors.js';
import type { FrozenTeacher, MethodPart, MethodRecipe, MethodRun, MethodSetup, StepContext } from './types.js';

const ALIGNMENTS = ['l2', 'contrastive'] as const;
type Alignment = (typeof ALIGNMENTS)[number];

/** The teacher's target for one of its stages: its projection, or its pooled, normalised stage feature. */
function teacherTarget(ctx: StepContext, teacher: FrozenTeacher, position: number): tf.Tensor2D {
  const t = ctx.teacher!;
  if (teacher.hasProjections && t.projections) return t.projections[position]!;
  return l2Normalize(tf.mean(t.features[teacher.stageIndices[position]!]!, [1, 2]), 1) as tf.Tensor2D;
}

/** Width of the teacher's target: projections end at its last stage's width; pooled features have their stage's. */
function targetDim(teacher: FrozenTeacher, position: number): number {
  const stage = teacher.hasProjections ? teacher.stageIndices.length - 1 : position;
  return teacher.featureShapes[teacher.stageIndices[stage]!]![2];
}

export const cdsKd: MethodRecipe = {
  name: 'cds-kd',
  summary:
    'CDS + distillation: CE + 0.1 SupCon per stage + 0.1 L2 (or InfoNCE) teacher-student projection alignment per stage + soft-target CE (T = 3)',
  needs: { teacher: true, views: 2, heads: 'projection', teacherFeatures: 'stages' },
  needsFor: (o) => ({
    ...cdsKd.needs,
    viewRecipes: cdsViewRecipes('cds-kd', o),
    // One image: SupCon (and InfoNCE alignment) has no candidate but the other view, the term is 0.
    ...(numberOption(o, 'contrastive') !== 0 || (numberOption(o, 'feat') !== 0 && o['alignment'] === 'contrastive') ? { minBatch: 2 } : {}),
  }),
  defaults: {
    ce: 1,
    contrastive: 0.1,
    temperature: 0.07,
    baseTemperature: 0.07,
    feat: 0.1,
    alignment: 'l2',
    alignTemperature: 0.07,
    soft: 1,
    softTemperature: 3,
    cutout: CDS_CUTOUT,
  },
  create: (setup: MethodSetup): MethodRun => {
    const teacher = setup.teacher;
    if (teacher == null) throw new MethodError('method cds-kd needs a teacher: pass --teacher (a run directory, bundle or model.json)');
    const o = setup.options;
    const alignment: Alignment = stringOption(o, 'alignment', ALIGNMENTS);
    const student = setup.student;
    const studentDim = student.featureShapes[student.stageIndices[student.stageIndices.length - 1]!]![2];
    const match: StageMatch[] = matchStages(student.stageIndices.length, teacher.stageIndices.length);
    const adapters: (tf.LayersModel | undefined)[] = match.map((m) => {
      const outDim = targetDim(teacher, m.teacher);
      return outDim === studentDim ? undefined : linearAdapter(`cdskd_adapter${m.student}`, studentDim, outDim, setup.rng);
    });
    const parts: MethodPart[] = adapters.flatMap((a, i) => (a ? [{ name: `adapter${i}`, model: a }] : []));
    return {
      parts,
      lossTerms: (ctx) => {
        const terms: Record<string, tf.Scalar> = {};
        const zs = ctx.student.projections ?? [];
        weighted(terms, 'ce', numberOption(o, 'ce'), () => supervisedCrossEntropy(ctx));
        weighted(terms, 'contrastive', numberOption(o, 'contrastive'), () =>
          sumOver(
            zs.map((z) =>
              supConLoss2N(z, ctx.labels, {
                temperature: numberOption(o, 'temperature'),
                baseTemperature: numberOption(o, 'baseTemperature'),
              }),
            ),
          ),
        );
        weighted(terms, 'feat', numberOption(o, 'feat'), () =>
          sumOver(
            match.map((m) => {
              const adapted = adapters[m.student] ? (adapters[m.student]!.apply(zs[m.student]!) as tf.Tensor2D) : zs[m.student]!;
              const target = teacherTarget(ctx, teacher, m.teacher);
              return alignment === 'l2'
                ? featureL2(adapted, stopGradient(target))
                : crossModelInfoNce(adapted, target, ctx.batchSize, numberOption(o, 'alignTemperature'));
            }),
          ),
        );
        weighted(terms, 'soft', numberOption(o, 'soft'), () =>
          softTargetCrossEntropy(
            firstView(ctx.student.logits, ctx.batchSize),
            firstView(ctx.teacher!.logits, ctx.batchSize),
            numberOption(o, 'softTemperature'),
          ),
        );
        return terms;
      },
    };
  },
};
