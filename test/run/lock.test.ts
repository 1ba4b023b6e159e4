import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectoryLock, LockError, lockHolder } from '../../src/run/lock.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'cds-lock-'));
}

/** A pid that no process has: one of a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('directory lock', () => {
  it('is created with the owner, refuses a second owner naming the pid, and is released', async () => {
    const dir = tempDir();
    const lock = await DirectoryLock.acquire(dir, { command: 'train' });
    const file = join(dir, 'run.lock');
    const owner = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; command: string; token: string };
    expect(owner).toMatchObject({ pid: process.pid, command: 'train' });
    expect(lockHolder(dir)?.token).toBe(owner.token);
    const second = DirectoryLock.acquire(dir, { command: 'train' });
    await expect(second).rejects.toBeInstanceOf(LockError);
    await expect(second).rejects.toMatchObject({ pid: process.pid });
    await lock.release();
    expect(existsSync(file)).toBe(false);
    expect(lockHolder(dir)).toBeUndefined();
    await lock.release(); // twice is harmless
    const again = await DirectoryLock.acquire(dir);
    await again.release();
  });

  it("a live process's lock is refused with its pid in the message", async () => {
    const dir = tempDir();
    // The parent of this test process is alive and is not this process.
    writeFileSync(join(dir, 'run.lock'), JSON.stringify({ pid: process.ppid, token: 'x', host: 'h', command: 'distill', since: 'then' }));
    const err = await DirectoryLock.acquire(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockError);
    expect((err as LockError).pid).toBe(process.ppid);
    expect((err as Error).message).toContain(`distill (process ${process.ppid} since then)`);
  });

  it("a dead process's lock is taken over; racing takers: exactly one wins", async () => {
    const dir = tempDir();
    const stale = { pid: deadPid(), token: 'stale', host: 'h', command: 'train', since: 'then' };
    writeFileSync(join(dir, 'run.lock'), JSON.stringify(stale));
    expect(lockHolder(dir)).toBeUndefined();
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => DirectoryLock.acquire(dir)));
    const won = results.filter((r): r is PromiseFulfilledResult<DirectoryLock> => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(7);
    for (const l of lost) expect(l.reason).toBeInstanceOf(LockError);
    const owner = JSON.parse(readFileSync(join(dir, 'run.lock'), 'utf8')) as { pid: number; token: string };
    expect(owner.pid).toBe(process.pid);
    expect(owner.token).toBe(won[0]!.value.info.token);
    // No guard or temporary file is left behind.
    await won[0]!.value.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('compare-style extra fields are kept across updates; a stale owner can veto the takeover', async () => {
    const dir = tempDir();
    const lock = await DirectoryLock.acquire(dir, { name: 'compare.lock', command: 'compare' });
    await lock.update({ children: { 'kd-seed0': 123 } });
    const saved = JSON.parse(readFileSync(join(dir, 'compare.lock'), 'utf8')) as Record<string, unknown>;
    expect(saved).toMatchObject({ pid: process.pid, command: 'compare', token: lock.info.token, children: { 'kd-seed0': 123 } });
    await lock.release();
    writeFileSync(join(dir, 'compare.lock'), JSON.stringify({ ...saved, pid: deadPid(), token: 'old' }));
    const veto = DirectoryLock.acquire(dir, {
      name: 'compare.lock',
      beforeTakeover: (stale) => {
        throw new Error(`children ${JSON.stringify(stale['children'])}`);
      },
    });
    await expect(veto).rejects.toThrow('children {"kd-seed0":123}');
    expect(JSON.parse(readFileSync(join(dir, 'compare.lock'), 'utf8')).token).toBe('old');
  });

  it('is removed when its process exits without releasing it (process.exit, as after a second Ctrl-C)', () => {
    const dir = tempDir();
    const module = resolve('dist/src/run/lock.js');
    const file = join(dir, 'run.lock');
    const script =
      `import { existsSync } from 'node:fs';` +
      `import { DirectoryLock } from ${JSON.stringify(module)};` +
      `await DirectoryLock.acquire(${JSON.stringify(dir)});` +
      `process.stdout.write(existsSync(${JSON.stringify(file)}) ? 'held' : 'missing');` +
      `process.exit(130);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script]);
    expect(r.status, r.stderr.toString()).toBe(130);
    expect(r.stdout.toString()).toBe('held');
    expect(existsSync(file)).toBe(false);
  });
});

