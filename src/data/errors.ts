import { CdsDistillError } from '../errors.js';

/**
 * A user-facing data problem: a dataset that is missing, a file with the wrong format, a class folder without
 * images. The message is one line that names the file (or directory) and says what was expected, so the CLI can
 * print it as a user error without a stack trace.
 */
export class DataError extends CdsDistillError {
  /** The file or directory the problem is about, when there is one. */
  readonly path: string | undefined;

  constructor(message: string, path?: string) {
    super(message);
    this.name = 'DataError';
    this.path = path;
  }
}
