/**
 * The comparison directory's lock: one compare per directory (the shared directory lock, `compare.lock`), with
 * the pids of the distill children it runs, so a compare that was killed does not race the children it left.
 */
import { join } from 'node:path';
import { CompareError } from './runs.js';
import { DirectoryLock, processAlive } from '../run/lock.js';


// ---------------------------------------------------------------------------------------------------------------------
// Lock: one compare per directory (the shared directory lock); children left running by a killed compare are not raced.

export async function lockComparison(out: string): Promise<{ child(name: string, pid: number | undefined): Promise<void>; release(): Promise<void> }> {
  const file = join(out, 'compare.lock');
  const lock = await DirectoryLock.acquire(out, {
    name: 'compare.lock',
    command: 'compare',
    beforeTakeover: (stale) => {
      const children = (stale['children'] ?? {}) as Record<string, number>;
      for (const [name, pid] of Object.entries(children)) {
        if (processAlive(pid)) {
          throw new CompareError(
            `run ${name} is still being trained by process ${pid}, left running by a compare that was killed; wait for it ` +
              `or stop it (kill ${pid}), then run compare again (delete ${file} if that process is not cds-distill)`,
          );
        }
      }
    },
  });
  const children: Record<string, number> = {};
  return {
    child: async (name, pid) => {
      if (pid === undefined) delete children[name];
      else children[name] = pid;
      await lock.update({ children: { ...children } });
    },
    release: () => lock.release(),
  };
}

