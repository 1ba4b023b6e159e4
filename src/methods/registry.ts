import { cdsKd } from './cds-kd.js';
import { at, crd, dkd, fitnet, kd, pkt, rkd, sp } from './baselines.js';
import { cds, cdsSimclr } from './contrastive.js';
import { ce, ds, dsKl } from './supervised.js';
import { MethodError } from './errors.js';
import { defaultViewRecipes } from '../data/augment.js';
import type { ViewRecipe } from '../data/augment.js';
import type { FrozenTeacher, MethodNeeds, MethodOptions, MethodRecipe } from './types.js';

const RECIPES: readonly MethodRecipe[] = [ce, ds, dsKl, cds, cdsSimclr, kd, fitnet, at, sp, rkd, pkt, crd, dkd, cdsKd];
const BY_NAME = new Map(RECIPES.map((r) => [r.name, r]));


export function listMethods(): MethodRecipe[] {
  return [...RECIPES];
}

export function getMethod(name: string): MethodRecipe {
  const recipe = BY_NAME.get(name.toLowerCase());
  if (!recipe) throw new MethodError(`unknown method "${name}"; choose one of: ${RECIPES.map((r) => r.name).join(', ')}`);
  return recipe;
}

/**
 * The recipe's defaults with the user's overrides; unknown option names and wrongly typed values are refused, and so
 * are values the method's own checks refuse (its `needsFor`, e.g. a cutout fraction outside [0, 1]). Throws MethodError.
 */
export function resolveMethodOptions(recipe: MethodRecipe, overrides: Readonly<Record<string, unknown>> = {}): MethodOptions {
  const out: Record<string, number | string | boolean> = { ...recipe.defaults };
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in recipe.defaults)) {
      throw new MethodError(
        `method ${recipe.name} has no option "${key}"; its options are: ${Object.keys(recipe.defaults).join(', ')}`,
      );
    }
    const expected = typeof recipe.defaults[key];
    let v = value;
    if (expected === 'number' && typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) v = Number(v);
    if (typeof v !== expected || (typeof v === 'number' && !Number.isFinite(v))) {
      throw new MethodError(`method ${recipe.name} option "${key}" must be a ${expected}, got ${JSON.stringify(value)}`);
    }
    out[key] = v as number | string | boolean;
  }
  recipe.needsFor?.(out);
  return out;
}

/**
 * The method options a run used, from what its config.json recorded: the record completed with the method's defaults,
 * since a config written before an option existed ran with that option's default (e.g. `cutout` 0.5 of the CDS views).
 */
export function recordedMethodOptions(recipe: MethodRecipe, recorded: Readonly<Record<string, unknown>> | undefined): Readonly<Record<string, unknown>> {
  return { ...recipe.defaults, ...(recorded ?? {}) };
}

export function needsOf(recipe: MethodRecipe, options: MethodOptions): MethodNeeds {
  return recipe.needsFor ? recipe.needsFor(options) : recipe.needs;
}

/**
 * The augmentation of a step for images of `inputShape`: the method's own view recipes (`needs.viewRecipes`), else
 * the default for its number of views. Throws MethodError (internal) when their number is not `needs.views`.
 */
export function viewRecipesOf(needs: MethodNeeds, inputShape: readonly number[]): readonly ViewRecipe[] {
  const recipes = needs.viewRecipes ? needs.viewRecipes(inputShape) : defaultViewRecipes(needs.views, inputShape);
  if (recipes.length !== needs.views) {
    throw new MethodError(`the method declares ${recipes.length} view recipes for ${needs.views} views`, { kind: 'internal' });
  }
  return recipes;
}

/**
 * Refuse a teacher that lacks what the method reads of it (MethodNeeds.teacherFeatures): stage features for 'stages',
 * a pooled feature (pooledDim > 0) for 'pooled'. A logits-only teacher (a GraphModel loaded without stage nodes) suits
 * 'logits' methods only. `teacherName` names it in the message. Throws MethodError.
 */
export function checkTeacherFeatures(method: string, needs: MethodNeeds, teacher: FrozenTeacher, teacherName: string): void {
  if (!needs.teacher) return;
  const wants = needs.teacherFeatures ?? 'stages';
  const logitOnly = RECIPES.filter((r) => r.needs.teacher && r.needs.teacherFeatures === 'logits').map((r) => r.name);
  // The fix first, the (possibly long) path last: a line cut to fit the terminal keeps what to do.
  const fix = `pass --teacher-stages A,B,... (cds-distill inspect lists candidates) or use ${logitOnly.join(' or ')}`;
  if (wants === 'stages' && teacher.stageIndices.length === 0) {
    throw new MethodError(`method ${method} needs the teacher's stage features: ${fix}; teacher ${teacherName} has no stages`);
  }
  if (wants === 'pooled' && teacher.pooledDim === 0) {
    throw new MethodError(`method ${method} needs the teacher's pooled feature: ${fix}; teacher ${teacherName} has no ` +
      'stages to pool');
  }
}
