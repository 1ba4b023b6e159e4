/** What is on disk at a path, for the lookups of run directories, bundles and models. Imports only node. */
import { stat } from 'node:fs/promises';

/** 'dir', 'file', or undefined when nothing (or nothing readable) is there. Never throws. */
export async function kindOf(p: string): Promise<'dir' | 'file' | undefined> {
  try {
    return (await stat(p)).isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}
