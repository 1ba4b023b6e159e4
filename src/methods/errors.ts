import { CdsDistillError } from '../errors.js';

/**
 * A user error about a method: an unknown method name, an option it does not have or a wrong value for one, a teacher
 * missing or lacking what the method reads.
 */
export class MethodError extends CdsDistillError {
  override name = 'MethodError';
}
