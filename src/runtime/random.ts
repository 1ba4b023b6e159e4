/**
 * The toolkit's seeded random source. Weight init, shuffling and augmentation all draw from it, so a run with the
 * same seed on the same backend is reproducible, and its state can be saved in a checkpoint and restored exactly.
 *
 * Generator: sfc32 (small fast counter), seeded through splitmix32. 2^128 state, passes PractRand to large sizes,
 * and its state is four uint32 words that serialise to JSON.
 */

export interface RandomState {
  readonly words: readonly [number, number, number, number];
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Random {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  constructor(seed: number) {
    this.reseed(seed);
  }

  reseed(seed: number): void {
    if (!Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${seed}`);
    const mix = splitmix32(Math.floor(seed));
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A uniformly distributed uint32. */
  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!(n >= 1)) throw new Error(`int(n) needs n >= 1, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A seed for a tfjs op that takes one (tf.randomUniform, initializers, dropout). */
  opSeed(): number {
    return this.nextUint32() % 2147483647;
  }

  /** In-place Fisher-Yates shuffle; returns the same array. */
  shuffle<T>(items: T[]): T[];
  shuffle(items: Int32Array | Uint32Array): Int32Array | Uint32Array;
  shuffle<T>(items: T[] | Int32Array | Uint32Array): T[] | Int32Array | Uint32Array {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp as never;
    }
    return items;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p) as Int32Array;
  }

  /** An independent generator derived from this one (e.g. one per data pipeline). */
  fork(): Random {
    const child = new Random(0);
    child.a = this.nextUint32();
    child.b = this.nextUint32();
    child.c = this.nextUint32();
    child.d = this.nextUint32();
    for (let i = 0; i < 12; i++) child.nextUint32();
    return child;
  }

  getState(): RandomState {
    return { words: [this.a, this.b, this.c, this.d] };
  }

  setState(state: RandomState): void {
    const [a, b, c, d] = state.words;
    this.a = a >>> 0;
    this.b = b >>> 0;
    this.c = c >>> 0;
    this.d = d >>> 0;
  }
}

const DEFAULT_SEED = 0;
let globalRandom = new Random(DEFAULT_SEED);

/** Reseed the toolkit's global random source. */
export function setSeed(seed: number): void {
  globalRandom = new Random(seed);
}

/** The toolkit's global random source (weight init, shuffling and augmentation draw from it unless given their own). */
export function getRandom(): Random {
  return globalRandom;
}
