/** A user error in the run's options (the CLI prints it as one line). */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
