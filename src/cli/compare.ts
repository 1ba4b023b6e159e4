/**
 * Placeholder for `cds-distill compare` (src/report owns it and will replace this file): registers nothing yet.
 */
import type { Command } from 'commander';

export function registerCompare(program: Command): void {
  void program;
}
