/** A run directory's config.json: the one reader and writer (the loop writes it, resume/eval/compare read it). */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { ConfigError } from '../train/errors.js';
import type { RunConfig } from '../train/api.js';
import { runPaths } from './paths.js';

/** Create the run directory (and its parents) and, when given, write `config` as its config.json. */
export async function createRunDir(runDir: string, config?: unknown): Promise<void> {
  await mkdir(runDir, { recursive: true });
  if (config !== undefined) await writeFile(runPaths(runDir).config, JSON.stringify(config, null, 2) + '\n');
}

export interface ReadRunConfigOptions {
  /**
   * The error for a config.json that is not valid JSON (`reason`: the parser's message); the caller says what the user
   * can do. Default: a ConfigError naming the file.
   */
  readonly invalid?: (file: string, reason: string) => Error;
}

/**
 * The run's config.json, or undefined when the directory has none. A file that is not valid JSON throws
 * `options.invalid`'s error (default ConfigError). Older runs may lack fields: read what you use defensively.
 */
export async function readRunConfig(runDir: string, options: ReadRunConfigOptions = {}): Promise<RunConfig | undefined> {
  const file = runPaths(runDir).config;
  if (!existsSync(file)) return undefined;
  const text = await readFile(file, 'utf8');
  try {
    return JSON.parse(text) as RunConfig;
  } catch (err) {
    const reason = (err as Error).message;
    throw options.invalid ? options.invalid(file, reason) : new ConfigError(`${file} is not valid JSON (${reason.split('\n')[0]})`);
  }
}
