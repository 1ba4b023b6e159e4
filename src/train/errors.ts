import { CdsDistillError } from '../errors.js';

/** A user error in the run's options (the CLI prints it as one line). */
export class ConfigError extends CdsDistillError {
  override name = 'ConfigError';
}
