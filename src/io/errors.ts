import { CdsDistillError } from '../errors.js';

/**
 * A model file (model.json, a weight file, bundle.json) that cannot be used as it is: the message names the file and
 * what was expected, so a CLI can print it as a one-line user error.
 */
export class ModelFileError extends CdsDistillError {
  /** The file (or directory) the problem is in. */
  readonly file: string;

  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelFileError';
    this.file = file;
  }
}
