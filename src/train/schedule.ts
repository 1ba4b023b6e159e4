/** Learning-rate schedules, as functions of the (fractional) epoch, so warm-up can ramp within an epoch. */

export type ScheduleConfig =
  | { readonly kind: 'multistep'; readonly milestones: readonly number[]; readonly gamma?: number }
  | { readonly kind: 'cosine'; readonly minLr?: number }
  | { readonly kind: 'constant' };

export interface LrScheduleOptions {
  readonly baseLr: number;
  readonly epochs: number;
  readonly schedule: ScheduleConfig;
  /** Linear warm-up from ~0 to baseLr over this many epochs (default 0). */
  readonly warmupEpochs?: number;
}

/**
 * The learning rate at a point in training. `epoch` counts from 0; `fraction` in (0, 1] is the progress through it
 * including the step about to be taken, so warm-up never yields a zero rate.
 * Multistep follows PyTorch's MultiStepLR with milestones in 1-based epoch numbers as the reference recipes state
 * them ("lr / 10 at epochs 150, 180, 210" means epochs 151.. run at lr / 10): the rate drops once `epoch` >= milestone.
 */
export function learningRate(options: LrScheduleOptions, epoch: number, fraction = 0): number {
  const { baseLr, epochs, schedule } = options;
  const warmup = options.warmupEpochs ?? 0;
  const t = epoch + fraction;
  if (warmup > 0 && t < warmup) return (baseLr * t) / warmup;
  switch (schedule.kind) {
    case 'constant':
      return baseLr;
    case 'multistep': {
      const gamma = schedule.gamma ?? 0.1;
      const passed = schedule.milestones.filter((m) => epoch >= m).length;
      return baseLr * gamma ** passed;
    }
    case 'cosine': {
      const minLr = schedule.minLr ?? 0;
      const span = Math.max(1, epochs - warmup);
      const progress = Math.min(1, Math.max(0, (t - warmup) / span));
      return minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
  }
}

/** Scale milestones given for `referenceEpochs` to a run of `epochs` (e.g. 150/180/210 of 240 to a 12-epoch run). */
export function scaleMilestones(milestones: readonly number[], referenceEpochs: number, epochs: number): number[] {
  return milestones.map((m) => Math.max(1, Math.round((m / referenceEpochs) * epochs)));
}
