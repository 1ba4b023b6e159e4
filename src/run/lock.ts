/**
 * Directory locks: one owner at a time for a run directory (train, distill) or a comparison (compare).
 *
 * A lock is a small JSON file (`{pid, token, command, since, ...}`) created atomically: its full content is written
 * to a private temporary file that is then hard-linked to the lock's name, which fails if the name exists, so the
 * lock is never seen empty or half written. A lock whose owner process is gone is stale and is taken over under a
 * short-lived guard file, re-reading the lock under the guard so two processes taking over the same stale lock cannot
 * both win (nor remove a fresh lock the other just created). A lock is released by `release()`, and on process exit
 * (also `process.exit` after a second Ctrl-C) by a synchronous exit hook; an owner that is killed outright leaves a
 * stale lock, which the next run takes over.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { CdsDistillError } from '../errors.js';

/** Another live process owns the directory (a user error: wait, or use another directory). */
export class LockError extends CdsDistillError {
  override name = 'LockError';
  constructor(
    message: string,
    /** The owner's process id. */
    readonly pid: number,
  ) {
    super(message);
  }
}

/** What a lock file holds. `extra` fields (e.g. compare's children) are the owner's own. */
export interface LockOwner {
  readonly pid: number;
  /** Random per acquisition: tells this lock from a later one of a reused pid or a racing process. */
  readonly token: string;
  readonly host: string;
  /** What holds it, for messages ("train", "compare"). */
  readonly command: string;
  /** ISO time of acquisition. */
  readonly since: string;
  readonly [extra: string]: unknown;
}

export interface AcquireOptions {
  /** File name of the lock inside the directory. Default 'run.lock'. */
  readonly name?: string;
  /** What is taking it, recorded and used in messages. Default 'run'. */
  readonly command?: string;
  /**
   * Called with a stale lock's owner (its process is gone) before it is taken over; may throw to refuse (compare
   * refuses while children the dead owner started are still training).
   */
  readonly beforeTakeover?: (stale: LockOwner) => void;
}

/** Whether process `pid` exists on this machine (EPERM: it exists but is not ours). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Lock files this process holds (absolute paths -> token), released by the exit hook if still held. */
const held = new Map<string, string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [file, token] of held) {
      try {
        const owner = JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
        if (owner.token === token) unlinkSync(file);
      } catch {
        // already gone or unreadable: nothing of ours to remove
      }
    }
    held.clear();
  });
}

/** The lock's owner, or undefined when there is no lock file; a file that is not a lock reads as a dead owner. */
export async function readLockOwner(file: string): Promise<LockOwner | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const owner = JSON.parse(text) as LockOwner;
    if (typeof owner.pid === 'number') return owner;
  } catch {
    // not JSON: not written by us (ours are complete when they appear)
  }
  return { pid: -1, token: '', host: '', command: 'unknown', since: '' };
}

const GUARD_STALE_MS = 10_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Create `file` with `content` only if it does not exist (atomically, complete when it appears). */
async function createExclusive(file: string, content: string): Promise<boolean> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, content);
  try {
    await link(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
}

function describeOwner(owner: LockOwner): string {
  const since = owner.since ? ` since ${owner.since}` : '';
  return `${owner.command} (process ${owner.pid}${since})`;
}

/** One held lock. */
export class DirectoryLock {
  private constructor(
    /** The lock file. */
    readonly file: string,
    private owner: LockOwner,
  ) {}

  /**
   * Take the lock of `dir` (created if missing). Throws `LockError` naming the owner's pid when a live process holds
   * it (also this process, for a second run into the same directory); takes over a lock whose process is gone.
   */
  static async acquire(dir: string, options: AcquireOptions = {}): Promise<DirectoryLock> {
    const file = resolve(dir, options.name ?? 'run.lock');
    const command = options.command ?? 'run';
    await mkdir(resolve(dir), { recursive: true });
    const owner: LockOwner = {
      pid: process.pid,
      token: randomBytes(8).toString('hex'),
      host: hostname(),
      command,
      since: new Date().toISOString(),
    };
    const content = JSON.stringify(owner) + '\n';
    for (let attempt = 0; attempt < 50; attempt++) {
      if (await createExclusive(file, content)) {
        held.set(file, owner.token);
        installExitHook();
        return new DirectoryLock(file, owner);
      }
      const current = await readLockOwner(file);
      if (current === undefined) continue; // released meanwhile: try again
      const ours = current.pid === process.pid && held.get(file) === current.token;
      if (ours || (current.pid !== process.pid && processAlive(current.pid))) {
        throw new LockError(
          `${dir} is in use by ${ours ? 'another run in this process' : describeOwner(current)}; wait for it to finish, ` +
            `or use another directory (delete ${file} only if process ${current.pid} is not cds-distill)`,
          current.pid,
        );
      }
      options.beforeTakeover?.(current);
      await takeOverStale(file, current);
    }
    throw new LockError(`could not take the lock ${file}: it keeps changing hands; try again`, -1);
  }

  /** The owner record as written. */
  get info(): LockOwner {
    return this.owner;
  }

  /** Rewrite the lock with extra fields (kept with pid and token), atomically. */
  async update(extra: Record<string, unknown>): Promise<void> {
    if (!held.has(this.file)) return;
    this.owner = { ...extra, pid: this.owner.pid, token: this.owner.token, host: this.owner.host, command: this.owner.command, since: this.owner.since };
    const temp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temp, JSON.stringify(this.owner) + '\n');
    await rename(temp, this.file);
  }

  /** Remove the lock if it is still ours. Safe to call twice. */
  async release(): Promise<void> {
    if (held.get(this.file) !== this.owner.token) return;
    held.delete(this.file);
    const current = await readLockOwner(this.file).catch(() => undefined);
    if (current?.token === this.owner.token) await rm(this.file, { force: true });
  }
}

/** Remove a stale lock under a guard, only if it is still the stale one we read. */
async function takeOverStale(file: string, stale: LockOwner): Promise<void> {
  const guard = `${file}.takeover`;
  if (!(await createExclusive(guard, JSON.stringify({ pid: process.pid }) + '\n'))) {
    // Someone else is taking it over; a guard left by a process that died in this short window expires.
    try {
      if (Date.now() - (await stat(guard)).mtimeMs > GUARD_STALE_MS) await rm(guard, { force: true });
    } catch {
      // gone meanwhile
    }
    await sleep(20 + Math.random() * 30);
    return;
  }
  try {
    const again = await readLockOwner(file);
    if (again !== undefined && again.token === stale.token && again.pid === stale.pid) await unlink(file).catch(() => undefined);
  } finally {
    await rm(guard, { force: true });
  }
}

/** The live owner of `dir`'s lock, if any (for checks that must not take it, e.g. --dry-run). */
export function lockHolder(dir: string, name = 'run.lock'): LockOwner | undefined {
  const file = join(resolve(dir), name);
  let owner: LockOwner;
  try {
    owner = JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
  if (owner.pid === process.pid) return held.get(file) === owner.token ? owner : undefined;
  return processAlive(owner.pid) ? owner : undefined;
}
