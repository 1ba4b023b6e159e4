/**
 * What a run directory may be used for: a fresh run needs an empty (or new) directory unless told to replace it, a
 * resumed run must ask for the settings it was started with. The setting comparison is the one `compare` uses for its
 * run directories too.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../train/errors.js';
import { readRunConfig } from './config.js';
import { CONFIG_FILE, RUN_FILES, RUN_LOCK, runPaths } from './paths.js';

export { RUN_FILES, RUN_LOCK };

/**
 * Settings a resumed run may change, and why: everything else must match the run's config.json.
 * `epochs` extends (or shortens) a run; multistep milestones scaled from the recipe follow the new epoch count, so
 * they are compared only when given explicitly.
 */
export const RESUME_MAY_CHANGE: Readonly<Record<string, string>> = {
  '--epochs': 'extend (or shorten) the run; the CLI keeps the run\'s milestones, a library call that gives none scales them to the new epochs',
  '--backend': 'continue on another backend (results then differ in the last bits)',
  '--eval-batch-size': 'evaluation speed only',
};

function sameNumber(a: number, b: number): boolean {
  return a === b || Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a));
}

/** Equal settings: numbers up to 1e-12 relative, arrays and plain objects element by element, the rest with ===. */
export function sameSetting(have: unknown, want: unknown): boolean {
  if (typeof have === 'number' && typeof want === 'number') return sameNumber(have, want);
  if (Array.isArray(have) || Array.isArray(want)) {
    return Array.isArray(have) && Array.isArray(want) && have.length === want.length && have.every((h, i) => sameSetting(h, want[i]));
  }
  if (have !== null && want !== null && typeof have === 'object' && typeof want === 'object') {
    const keys = new Set([...Object.keys(have), ...Object.keys(want)]);
    return [...keys].every((k) => sameSetting((have as Record<string, unknown>)[k], (want as Record<string, unknown>)[k]));
  }
  return have === want;
}

/** A setting to compare: its label in messages, the run's value, the value asked for. */
export type SettingCheck = readonly [label: string, have: unknown, want: unknown];

/** The checks that fail, as "label <run's value> (asked: <value>)". Empty when all agree. */
export function settingDifferences(checks: readonly SettingCheck[]): string[] {
  return checks.filter(([, have, want]) => !sameSetting(have, want)).map(([label, have, want]) => `${label} ${JSON.stringify(have)} (asked: ${JSON.stringify(want)})`);
}

/** What is in a run directory now. */
export interface RunDirectoryState {
  readonly exists: boolean;
  /** Entries other than the lock and its temporary files. */
  readonly entries: readonly string[];
  /** The run's config.json, when there is one. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Whether checkpoint/state.json exists. */
  readonly hasCheckpoint: boolean;
}

function isLockFile(name: string): boolean {
  return name === RUN_LOCK || (name.startsWith(`${RUN_LOCK}.`) && (name.endsWith('.tmp') || name.endsWith('.takeover')));
}

/**
 * Read the state of run directory `out`. Throws `ConfigError` when `out` exists but is not a directory, or when its
 * config.json is not valid JSON.
 */
export async function readRunDirectory(out: string): Promise<RunDirectoryState> {
  let isDir: boolean;
  try {
    isDir = (await stat(out)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { exists: false, entries: [], hasCheckpoint: false };
    throw err;
  }
  if (!isDir) throw new ConfigError(`--out ${out} is a file, not a run directory; give the path of a directory (it is created if missing)`);
  const entries = (await readdir(out)).filter((e) => !isLockFile(e)).sort();
  let config: Record<string, unknown> | undefined;
  if (entries.includes(CONFIG_FILE)) {
    config = (await readRunConfig(out, {
      invalid: (file, reason) =>
        new ConfigError(`${file} is not valid JSON (${reason.split('\n')[0]}); the run cannot be resumed: use another --out, or --force to replace it`),
    })) as Record<string, unknown> | undefined;
  }
  const hasCheckpoint = await stat(join(runPaths(out).checkpoint, 'state.json')).then(
    (s) => s.isFile(),
    () => false,
  );
  return { exists: true, entries, ...(config !== undefined ? { config } : {}), hasCheckpoint };
}

/** How a run will use its directory. */
export interface RunDirectoryPlan {
  /** Continue from the checkpoint. */
  readonly resume: boolean;
  /** Replace what a previous run left (force). */
  readonly replace: boolean;
  /** What to tell the user (starting fresh despite resume, replacing a run). */
  readonly notes: readonly string[];
  /** The run's config.json when resuming. */
  readonly config?: Readonly<Record<string, unknown>>;
}

/**
 * Decide how a run uses `out`, or refuse: an existing file; a non-empty directory without `resume` or `force`;
 * `resume` and `force` together; `resume` of a run whose config.json differs in a setting not in
 * `RESUME_MAY_CHANGE` (`checks` are the settings to compare, see `settingDifferences`). Throws `ConfigError`.
 */
export async function planRunDirectory(
  out: string,
  options: { readonly resume?: boolean; readonly force?: boolean },
  checks: (config: Readonly<Record<string, unknown>>) => readonly SettingCheck[],
): Promise<RunDirectoryPlan> {
  if (options.resume && options.force) throw new ConfigError('give --resume (continue the run) or --force (replace it), not both');
  const state = await readRunDirectory(out);
  if (!options.resume) {
    if (state.entries.length === 0) return { resume: false, replace: false, notes: [] };
    if (!options.force) {
      const shown = state.entries.slice(0, 4).join(', ') + (state.entries.length > 4 ? ', ...' : '');
      throw new ConfigError(
        `${out} is not empty (${shown}); give --resume to continue the run there, --force to replace it, or another --out`,
      );
    }
    const unknown = state.entries.filter((e) => !RUN_FILES.includes(e));
    if (unknown.length > 0 && state.config === undefined) {
      throw new ConfigError(`${out} holds files that are not a run's (${unknown.slice(0, 4).join(', ')}); --force replaces only run directories: use another --out`);
    }
    return { resume: false, replace: true, notes: [`--force: replacing the run in ${out}`] };
  }
  if (state.config === undefined && state.entries.length > 0) {
    throw new ConfigError(`${out} holds no run to resume (no config.json, but ${state.entries.slice(0, 4).join(', ')}); use another --out`);
  }
  if (state.config !== undefined) {
    const diffs = settingDifferences(checks(state.config));
    if (diffs.length > 0) {
      const shown = diffs.length > 4 ? [...diffs.slice(0, 4), `and ${diffs.length - 4} more`] : diffs;
      throw new ConfigError(
        // The fix before the path, so a line cut at the CLI's width keeps it.
        `cannot resume with other settings: ${shown.join(', ')}; only ${Object.keys(RESUME_MAY_CHANGE).join(', ')} ` +
          `may change: use the run's settings or another --out (${out})`,
      );
    }
  }
  if (!state.hasCheckpoint) {
    return { resume: false, replace: false, notes: [`--resume: no checkpoint in ${runPaths(out).checkpoint}; starting a fresh run`] };
  }
  return { resume: true, replace: false, notes: [], ...(state.config !== undefined ? { config: state.config } : {}) };
}

/** Remove what a previous run wrote into `out` (RUN_FILES only). */
export async function clearRunFiles(out: string): Promise<void> {
  for (const f of RUN_FILES) await rm(resolve(out, f), { recursive: true, force: true });
}
