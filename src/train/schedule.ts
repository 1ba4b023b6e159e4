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

/**
 * Scale milestones given for `referenceEpochs` to a run of `epochs` (e.g. 150/180/210 of 240 to a 12-epoch run:
 * 8/9/11). Each is rounded; those that land on the same epoch as an earlier one, or outside 1..epochs-1 (where a
 * drop would hit the first epoch or come too late to matter), are dropped, so a short run trains its first epoch at
 * the base rate and every rate it reaches for at least one epoch: the 300-epoch teacher recipe's 90/180/280 becomes
 * [1] for 2 epochs (epoch 2 at lr/10), not [1, 1, 2] (epoch 2 at lr/100), and [] for 1 epoch.
 */
export function scaleMilestones(milestones: readonly number[], referenceEpochs: number, epochs: number): number[] {
  const out: number[] = [];
  for (const m of milestones) {
    const scaled = Math.round((m / referenceEpochs) * epochs);
    if (scaled >= 1 && scaled < epochs && !out.includes(scaled) && (out.length === 0 || scaled > out[out.length - 1]!)) out.push(scaled);
  }
  return out;
}

/**
 * The schedule in words for `--dry-run`: multistep and constant as the rate of each span of epochs (1-based, the rate
 * at each epoch's last step), e.g. "epochs 1-90: lr 0.1, epochs 91-180: lr 0.01, ..."; cosine by its end points.
 */
export function describeSchedule(options: LrScheduleOptions): string {
  const fmt = (x: number): number => Number(x.toPrecision(6));
  if (options.schedule.kind === 'cosine') {
    const warm = options.warmupEpochs ? `linear warm-up over ${options.warmupEpochs} epochs, then ` : '';
    return `${warm}cosine from lr ${fmt(options.baseLr)} to ${fmt(options.schedule.minLr ?? 0)} at the end of epoch ${options.epochs}`;
  }
  const parts: string[] = [];
  let start = 1;
  let rate = learningRate(options, 0, 1);
  for (let e = 1; e <= options.epochs; e++) {
    const next = e < options.epochs ? learningRate(options, e, 1) : NaN;
    if (next !== rate) {
      parts.push(`${start === e ? `epoch ${e}` : `epochs ${start}-${e}`}: lr ${fmt(rate)}`);
      start = e + 1;
      rate = next;
    }
  }
  return parts.join(', ');
}
