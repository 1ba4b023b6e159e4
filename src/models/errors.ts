/** A user error from the model zoo (unknown architecture name, invalid build options). */
export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}
