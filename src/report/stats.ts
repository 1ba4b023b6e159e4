/** Small statistics over seeds: plain numbers, so the report's figures can be checked by hand. */

/** Mean and sample standard deviation (n - 1 in the denominator; 0 for a single value) of a set of values. */
export interface Stat {
  readonly mean: number;
  readonly std: number;
  readonly n: number;
  readonly min: number;
  readonly max: number;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Sample standard deviation (Bessel-corrected); 0 for fewer than two values. */
export function sampleStd(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, b) => a + (b - m) * (b - m), 0) / (values.length - 1));
}

export function stat(values: readonly number[]): Stat {
  return {
    mean: mean(values),
    std: sampleStd(values),
    n: values.length,
    min: values.length ? Math.min(...values) : NaN,
    max: values.length ? Math.max(...values) : NaN,
  };
}
