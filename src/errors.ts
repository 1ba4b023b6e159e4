/**
 * The toolkit's one error base. Every error class of cds-distill extends `CdsDistillError`, whose `kind` says who can
 * fix it:
 * - 'user': the input (a path, a file, a dataset, an option value, a teacher, a diverged run) is the problem; the
 *   message is one line naming it and the fix. The CLI prints it without a stack trace and exits 1.
 * - 'usage': the command line itself is wrong (a required option missing, options that do not go together); exit 2.
 * - 'internal': a bug in cds-distill; the CLI asks for a report (stack trace with --verbose).
 * Library callers can tell the toolkit's errors from others with one `instanceof CdsDistillError`.
 * Imports nothing, so every layer may use it.
 */
export type ErrorKind = 'user' | 'usage' | 'internal';

export interface CdsDistillErrorOptions {
  readonly cause?: unknown;
  /** Default 'user' (or the subclass's own kind). */
  readonly kind?: ErrorKind;
}

export class CdsDistillError extends Error {
  override name = 'CdsDistillError';
  readonly kind: ErrorKind;

  constructor(message: string, options: CdsDistillErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = options.kind ?? 'user';
  }
}

/** Whether `err` is one of the toolkit's errors that the user can fix from its message alone (kind 'user'). */
export function isCdsUserError(err: unknown): boolean {
  return err instanceof CdsDistillError && err.kind === 'user';
}
