/**
 * The classic distillation baselines with the CIFAR-100 benchmark codebases' defaults (RepDistiller, mdistiller):
 * KD (Hinton et al. 2015), DKD (Zhao et al., CVPR 2022), FitNet (Romero et al. 2015), AT (Zagoruyko & Komodakis 2017),
 * SP (Tung & Mori 2019), RKD (Park et al. 2019), PKT (Passalis & Tefas 2018), CRD (Tian et al., ICLR 2020).
 */
import { tf } from '../runtime/tf.js';
import {
  attentionTransferLoss,
  CrdMemoryBank,
  crdLoss,
  dkdLoss,
  fitnetLoss,
  kdLoss,
  pktLoss,
  rkdLoss,
  similarityPreservingLoss,
} from '../losses/index.js';
import { l2Normalize } from '../losses/util.js';
import { convRegressor, linearAdapter, matchStages } from '../align/index.js';
import { labeledOnly, numberOption, sumOver, supervisedCrossEntropy, weighted } from './common.js';
import { MethodError } from './errors.js';
import type { FrozenTeacher, MethodNeeds, MethodOptions, MethodRecipe, MethodRun, MethodSetup, StepContext, TeacherFeatures } from './types.js';

function requireTeacher(setup: MethodSetup, method: string): FrozenTeacher {
  if (setup.teacher == null) throw new MethodError(`method ${method} needs a teacher: pass --teacher (a run directory, bundle or model.json)`);
  return setup.teacher;
}

/** Student and teacher feature maps of stage positions (0-based among each model's stages). */
function studentStage(ctx: StepContext, setup: MethodSetup, position: number): tf.Tensor4D {
  return ctx.student.features[setup.student.stageIndices[position]!]!;
}
function teacherStage(ctx: StepContext, teacher: FrozenTeacher, position: number): tf.Tensor4D {
  return ctx.teacher!.features[teacher.stageIndices[position]!]!;
}

/** A recipe whose extra term needs only the teacher's outputs (no trainable parts, no state). */
function teacherRecipe(
  name: string,
  summary: string,
  defaults: MethodOptions,
  term: (ctx: StepContext, setup: MethodSetup, teacher: FrozenTeacher) => tf.Scalar,
  teacherFeatures: TeacherFeatures,
  termName = name,
  minBatch = 1,
): MethodRecipe {
  const needs: MethodNeeds = { teacher: true, views: 1, heads: 'none', teacherFeatures };
  return {
    name,
    summary,
    needs,
    // A term that compares the images of a batch needs minBatch of them, unless it is switched off.
    ...(minBatch > 1 ? { needsFor: (o: MethodOptions): MethodNeeds => (numberOption(o, termName) !== 0 ? { ...needs, minBatch } : needs) } : {}),
    defaults,
    create: (setup): MethodRun => {
      const teacher = requireTeacher(setup, name);
      return {
        parts: [],
        lossTerms: (ctx) => {
          const terms: Record<string, tf.Scalar> = {};
          weighted(terms, 'ce', numberOption(setup.options, 'ce'), () => supervisedCrossEntropy(ctx));
          weighted(terms, termName, numberOption(setup.options, termName), () => term(ctx, setup, teacher));
          return terms;
        },
        dispose: () => undefined,
      };
    },
  };
}

export const kd = teacherRecipe(
  'kd',
  'Hinton KD: 0.1 CE + 0.9 T^2 KL(teacher || student) at T = 4',
  { ce: 0.1, kd: 0.9, temperature: 4 },
  (ctx, setup) => kdLoss(ctx.student.logits, ctx.teacher!.logits, { temperature: numberOption(setup.options, 'temperature') }),
  'logits',
);

export const dkd = teacherRecipe(
  'dkd',
  'Decoupled KD: CE + min(epoch / 20, 1) (1 TCKD + 8 NCKD) at T = 4',
  { ce: 1, dkd: 1, alpha: 1, beta: 8, temperature: 4, warmup: 20 },
  (ctx, setup) => {
    const o = setup.options;
    const ramp = Math.min(ctx.epoch / Math.max(numberOption(o, 'warmup'), 1e-9), 1);
    if (ctx.labeledRows.length === 0) return tf.scalar(0);
    const loss = dkdLoss(labeledOnly(ctx.student.logits, ctx), labeledOnly(ctx.teacher!.logits, ctx), labeledOnly(ctx.labels, ctx), {
      alpha: numberOption(o, 'alpha'),
      beta: numberOption(o, 'beta'),
      temperature: numberOption(o, 'temperature'),
    });
    return tf.mul(loss, ramp) as tf.Scalar;
  },
  'logits',
);

export const at = teacherRecipe(
  'at',
  'attention transfer: 1000 x sum over stages of mean((at_s - at_t)^2), at = normalised channel mean of F^2',
  { ce: 1, at: 1000, p: 2 },
  (ctx, setup, teacher) =>
    sumOver(
      matchStages(setup.student.stageIndices.length, teacher.stageIndices.length).map((m) =>
        attentionTransferLoss(studentStage(ctx, setup, m.student), teacherStage(ctx, teacher, m.teacher), {
          p: numberOption(setup.options, 'p'),
        }),
      ),
    ),
  'stages',
);

export const sp = teacherRecipe(
  'sp',
  'similarity preserving: 3000 x ||G_t - G_s||^2 / B^2 on the last stage',
  { ce: 1, sp: 3000 },
  (ctx, setup, teacher) =>
    similarityPreservingLoss(
      studentStage(ctx, setup, setup.student.stageIndices.length - 1),
      teacherStage(ctx, teacher, teacher.stageIndices.length - 1),
    ),
  'stages',
  'sp',
  // One image: both normalised Gram matrices are [[1]], the loss is 0.
  2,
);

export const rkd = teacherRecipe(
  'rkd',
  'relational KD on pooled features: 25 x distance + 50 x angle (smooth L1)',
  { ce: 1, rkd: 1, distanceWeight: 25, angleWeight: 50 },
  (ctx, setup) =>
    rkdLoss(ctx.student.pooled, ctx.teacher!.pooled, {
      distanceWeight: numberOption(setup.options, 'distanceWeight'),
      angleWeight: numberOption(setup.options, 'angleWeight'),
    }),
  'pooled',
  'rkd',
  // Two images: the one normalised distance is 1 and the one angle 1 for both models, so the loss is 0; one: undefined.
  3,
);

export const pkt = teacherRecipe(
  'pkt',
  'probabilistic knowledge transfer on pooled features: 30000 x KL of cosine-similarity distributions',
  { ce: 1, pkt: 30000 },
  (ctx) => pktLoss(ctx.student.pooled, ctx.teacher!.pooled),
  'pooled',
  'pkt',
  // One image: both similarity distributions are [1], the loss is 0.
  2,
);

export const fitnet: MethodRecipe = {
  name: 'fitnet',
  summary: 'FitNet hints: 100 x MSE(regressor(student middle stage), teacher middle stage)',
  needs: { teacher: true, views: 1, heads: 'none', teacherFeatures: 'stages' },
  defaults: { ce: 1, hint: 100 },
  create: (setup): MethodRun => {
    const teacher = requireTeacher(setup, 'fitnet');
    const sPos = Math.floor((setup.student.stageIndices.length - 1) / 2);
    const tPos = Math.floor((teacher.stageIndices.length - 1) / 2);
    const sShape = setup.student.featureShapes[setup.student.stageIndices[sPos]!]!;
    const tShape = teacher.featureShapes[teacher.stageIndices[tPos]!]!;
    const regressor = convRegressor('fitnet_regressor', sShape, tShape, setup.rng);
    return {
      parts: [{ name: 'regressor', model: regressor }],
      lossTerms: (ctx) => {
        const terms: Record<string, tf.Scalar> = {};
        weighted(terms, 'ce', numberOption(setup.options, 'ce'), () => supervisedCrossEntropy(ctx));
        weighted(terms, 'hint', numberOption(setup.options, 'hint'), () =>
          fitnetLoss(regressor.apply(studentStage(ctx, setup, sPos), { training: true }) as tf.Tensor4D, teacherStage(ctx, teacher, tPos)),
        );
        return terms;
      },
    };
  },
};

/** An embedding head for CRD: linear to `dim`, L2-normalised (RepDistiller's Embed). */
function embed(name: string, inDim: number, dim: number, setup: MethodSetup): tf.LayersModel {
  return linearAdapter(name, inDim, dim, setup.rng);
}

export const crd: MethodRecipe = {
  name: 'crd',
  summary: 'contrastive representation distillation: 0.8 x NCE against K = 16384 memory-bank negatives, 128-d embeddings, T = 0.07',
  needs: { teacher: true, views: 1, heads: 'none', sampleIndices: true, teacherFeatures: 'pooled' },
  defaults: { ce: 1, crd: 0.8, dim: 128, negatives: 16384, temperature: 0.07, momentum: 0.5 },
  create: (setup): MethodRun => {
    const teacher = requireTeacher(setup, 'crd');
    const o = setup.options;
    const dim = numberOption(o, 'dim');
    const embedStudent = embed('crd_embed_student', setup.student.pooledDim, dim, setup);
    const embedTeacher = embed('crd_embed_teacher', teacher.pooledDim, dim, setup);
    const memory = new CrdMemoryBank({
      numSamples: setup.numSamples,
      dim,
      numNegatives: numberOption(o, 'negatives'),
      temperature: numberOption(o, 'temperature'),
      momentum: numberOption(o, 'momentum'),
      // RepDistiller's CIFAR sampler ('exact' mode) draws negatives from other classes than the anchor's.
      ...(setup.sampleLabels ? { sampleLabels: setup.sampleLabels } : {}),
      rng: setup.rng,
    });
    const rng = setup.rng;
    return {
      parts: [
        { name: 'embed_student', model: embedStudent },
        { name: 'embed_teacher', model: embedTeacher },
      ],
      lossTerms: (ctx) => {
        const terms: Record<string, tf.Scalar> = {};
        weighted(terms, 'ce', numberOption(o, 'ce'), () => supervisedCrossEntropy(ctx));
        const embS = l2Normalize(embedStudent.apply(ctx.student.pooled) as tf.Tensor2D, 1) as tf.Tensor2D;
        const embT = l2Normalize(embedTeacher.apply(ctx.teacher!.pooled) as tf.Tensor2D, 1) as tf.Tensor2D;
        const contrastIdx = memory.sampleNegatives(ctx.sampleIndices, memory.numNegatives, rng);
        weighted(terms, 'crd', numberOption(o, 'crd'), () => crdLoss(embS, embT, memory, ctx.sampleIndices, { contrastIdx }));
        // The banks move towards this step's embeddings once the step is taken (RepDistiller updates after the loss).
        ctx.keepForAfterStep('embS', embS);
        ctx.keepForAfterStep('embT', embT);
        return terms;
      },
      afterStep: (ctx) => memory.update(ctx.sampleIndices, ctx.kept['embS']!, ctx.kept['embT']!),
      getState: () => {
        const state = memory.getState();
        const { memoryStudent, memoryTeacher, ...json } = state as unknown as Record<string, unknown> & {
          memoryStudent: Float32Array;
          memoryTeacher: Float32Array;
        };
        return { json, arrays: { memoryStudent, memoryTeacher } };
      },
      setState: (s) => {
        memory.setState({ ...(s.json as object), ...s.arrays } as unknown as Parameters<CrdMemoryBank['setState']>[0]);
      },
    };
  },
};
