/**
 * metrics.jsonl, a run's log of epochs: one JSON object (EpochMetrics) per line, appended as each epoch ends. The one
 * reader and writer of the file: the training loop (resume) and the comparison report both use it.
 *
 * A process killed while appending leaves a torn last line: a final line with no newline after it that is not valid
 * JSON. The reader drops exactly that line (and says so in `torn`); any other line that is not an epoch's JSON is a
 * MetricsLogError naming the file and line.
 */
import { existsSync } from 'node:fs';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import type { EpochMetrics } from '../train/fit.js';
import { CdsDistillError } from '../errors.js';

/** metrics.jsonl holds a line that is not an epoch's JSON (and is not a torn last line). */
export class MetricsLogError extends CdsDistillError {
  override name = 'MetricsLogError';
  constructor(
    message: string,
    readonly file: string,
    /** 1-based line number. */
    readonly line: number,
  ) {
    super(message);
  }
}

export interface MetricsLog {
  /** The epochs logged, in file order. */
  readonly epochs: EpochMetrics[];
  /** The torn last line that was dropped (undefined when the file ended cleanly). */
  readonly torn?: string;
}

/**
 * Parse the text of a metrics.jsonl (`file` names it in errors). Blank lines are skipped. Throws MetricsLogError for a
 * line that is not a JSON object with a numeric `epoch`, unless it is the unterminated last line (dropped as torn).
 */
export function parseMetricsLog(text: string, file: string): MetricsLog {
  const lines = text.split('\n');
  // After the last '\n' comes the unterminated rest: '' for a file that ended cleanly.
  const rest = lines.pop()!;
  const epochs: EpochMetrics[] = [];
  const parse = (line: string, n: number): EpochMetrics | undefined => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return undefined;
    }
    const epoch = (value as { epoch?: unknown } | null)?.epoch;
    if (typeof epoch !== 'number' || !Number.isInteger(epoch)) {
      throw new MetricsLogError(`${file}: line ${n} is not an epoch's metrics (no integer "epoch"); ` +
        'delete the run directory to redo the run', file, n);
    }
    return value as EpochMetrics;
  };
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const m = parse(line, i + 1);
    if (m === undefined) {
      throw new MetricsLogError(`${file}: line ${i + 1} is not valid JSON (only a torn last line is expected after a ` +
        'crash); delete the run directory to redo the run', file, i + 1);
    }
    epochs.push(m);
  });
  if (rest.trim() === '') return { epochs };
  const last = parse(rest, lines.length + 1);
  if (last === undefined) return { epochs, torn: rest };
  // A complete object whose newline was never written: the epoch was logged.
  epochs.push(last);
  return { epochs };
}

/** Read a run's metrics.jsonl (see parseMetricsLog); a missing file is an empty log. */
export async function readMetricsLog(file: string): Promise<MetricsLog> {
  if (!existsSync(file)) return { epochs: [] };
  return parseMetricsLog(await readFile(file, 'utf8'), file);
}

/** One line of metrics.jsonl. */
function metricsLine(m: EpochMetrics): string {
  return JSON.stringify(m) + '\n';
}

/** Replace the file with exactly these epochs (an empty file for none). */
export async function writeMetricsLog(file: string, epochs: readonly EpochMetrics[]): Promise<void> {
  await writeFile(file, epochs.map(metricsLine).join(''));
}

/** Append one epoch's line. */
export async function appendMetricsLog(file: string, m: EpochMetrics): Promise<void> {
  await appendFile(file, metricsLine(m));
}
