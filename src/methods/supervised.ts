/**
 * Supervised methods without a teacher: plain cross-entropy, deep supervision (DS, Lee et al. 2015) and DS with
 * self-distillation from the final classifier (DS-KL, "Be Your Own Teacher", Zhang et al. 2019). The contrastive
 * ones (cds, cds-simclr) are in contrastive.ts.
 */
import { tf } from '../runtime/tf.js';
import { deepSupervisionLoss } from '../losses/index.js';
import { labeledOnly, numberOption, stateless, supervisedCrossEntropy, weighted } from './common.js';
import type { MethodRecipe, MethodSetup } from './types.js';

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
