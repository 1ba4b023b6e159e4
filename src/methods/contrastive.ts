/**
 * Contrastive Deep Supervision without a teacher (Zhang et al., "Contrastive Deep Supervision", ECCV 2022): CE plus a
 * contrastive loss on every stage's projection over two views, supervised (cds: SupCon, unlabelled images SimCLR) or
 * unsupervised (cds-simclr: SimCLR, positives are the other view only). CDS with a teacher is cds-kd.ts. Option
 * `cutout`: view 1's cutout hole as a fraction of the image side (0.5 as published, 0 none; `cdsViewRecipes`).
 */
import { tf } from '../runtime/tf.js';
import { supConLoss2N } from '../losses/index.js';
import { cdsViewRecipes, numberOption, stateless, sumOver, supervisedCrossEntropy, weighted } from './common.js';
import { CDS_CUTOUT } from '../data/augment.js';
import type { MethodNeeds, MethodRecipe, MethodSetup } from './types.js';

function contrastive(name: string, summary: string, supervised: boolean): MethodRecipe {
  const needs: MethodNeeds = { teacher: false, views: 2, heads: 'projection' };
  return {
    name,
    summary,
    needs,
    needsFor: (o) => ({
      ...needs,
      viewRecipes: cdsViewRecipes(name, o),
      // One image: its two views are each other's only candidate, the contrastive loss is 0.
      ...(numberOption(o, 'contrastive') !== 0 ? { minBatch: 2 } : {}),
    }),
    defaults: { ce: 1, contrastive: 0.1, temperature: 0.07, baseTemperature: 0.07, cutout: CDS_CUTOUT },
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
