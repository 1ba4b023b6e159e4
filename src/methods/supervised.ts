/**
 * Methods without a teacher: plain cross-entropy, deep supervision (DS, Lee et al. 2015) and DS with
 * self-distillation from the final classifier (DS-KL, "Be Your Own Teacher", Zhang et al. 2019), and CDS
 * (Contrastive Deep Supervision, Zhang et al., ECCV 2022), supervised or SimCLR-style.
 */
import { tf } from '../runtime/tf.js';
import { deepSupervisionLoss, supConLoss2N } from '../losses/index.js';
import { labeledOnly, numberOption, sumOver, supervisedCrossEntropy, weighted } from './common.js';
import type { MethodNeeds, MethodRecipe, MethodRun, MethodSetup, StepContext } from './types.js';

function stateless(lossTerms: (ctx: StepContext) => Record<string, tf.Scalar>): MethodRun {
  return { parts: [], lossTerms, dispose: () => undefined };
}

export const ce: MethodRecipe = {
  name: 'ce',
  summary: 'the student alone: cross-entropy on the labels',
  needs: { teacher: false, views: 1, heads: 'none' },
  defaults: { ce: 1 },
  create: ({ options }: MethodSetup) =>
    stateless((ctx) => {
      const terms: Record<string, tf.Scalar> = {};
      weighted(terms, 'ce', numberOption(options, 'ce'), () => supervisedCrossEntropy(ctx));
      return terms;
    }),
};

function deepSupervision(name: string, summary: string, klWeight: number): MethodRecipe {
  return {
    name,
    summary,
    needs: { teacher: false, views: 1, heads: 'classifier' },
    defaults: { ce: 1, ds: 1, kl: klWeight, temperature: 3 },
    create: ({ options }: MethodSetup) =>
      stateless((ctx) => {
        const terms: Record<string, tf.Scalar> = {};
        weighted(terms, 'ce', numberOption(options, 'ce'), () => supervisedCrossEntropy(ctx));
        const aux = ctx.student.auxLogits ?? [];
        if (ctx.labeledRows.length > 0 && aux.length > 0) {
          weighted(terms, 'ds', numberOption(options, 'ds'), () =>
            deepSupervisionLoss(
              aux.map((a) => labeledOnly(a, ctx)),
              labeledOnly(ctx.student.logits, ctx),
              labeledOnly(ctx.labels, ctx),
              { klWeight: numberOption(options, 'kl'), temperature: numberOption(options, 'temperature') },
            ),
          );
        }
        return terms;
      }),
  };
}

export const ds = deepSupervision('ds', 'deep supervision: an auxiliary classifier on every stage, each trained with CE', 0);
export const dsKl = deepSupervision(
  'ds-kl',
  'deep supervision + self-distillation: auxiliary classifiers also match the final classifier (KL, T = 3)',
  1,
);

function contrastive(name: string, summary: string, supervised: boolean): MethodRecipe {
  const needs: MethodNeeds = { teacher: false, views: 2, heads: 'projection' };
  return {
    name,
    summary,
    needs,
    // One image: its two views are each other's only candidate, the contrastive loss is 0.
    needsFor: (o) => (numberOption(o, 'contrastive') !== 0 ? { ...needs, minBatch: 2 } : needs),
    defaults: { ce: 1, contrastive: 0.1, temperature: 0.07, baseTemperature: 0.07 },
    create: ({ options }: MethodSetup) =>
      stateless((ctx) => {
        const terms: Record<string, tf.Scalar> = {};
        weighted(terms, 'ce', numberOption(options, 'ce'), () => supervisedCrossEntropy(ctx));
        const temperature = numberOption(options, 'temperature');
        const baseTemperature = numberOption(options, 'baseTemperature');
        weighted(terms, 'contrastive', numberOption(options, 'contrastive'), () =>
          sumOver(
            (ctx.student.projections ?? []).map((z) =>
              supConLoss2N(z, supervised ? ctx.labels : undefined, { temperature, baseTemperature }),
            ),
          ),
        );
        return terms;
      }),
  };
}

export const cds = contrastive(
  'cds',
  'Contrastive Deep Supervision: CE + 0.1 x supervised contrastive loss on every stage over two views (unlabelled images: SimCLR)',
  true,
);
export const cdsSimclr = contrastive(
  'cds-simclr',
  'unsupervised CDS: CE + 0.1 x SimCLR contrastive loss on every stage (positives: the other view only)',
  false,
);
