import { CdsDistillError } from '../errors.js';

/** A user error from the model zoo (unknown architecture name, invalid build options). */
export class ModelError extends CdsDistillError {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}
