import { readFile, stat } from 'node:fs/promises';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { DataError } from './errors.js';

const gunzipAsync = promisify(gunzip);

function reason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

/** Read a whole file, gunzipping it when it starts with the gzip magic bytes (whatever its name). */
export async function readMaybeGzipped(file: string): Promise<Uint8Array> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    throw new DataError(`${file}: cannot read file (${reason(err)})`, file);
  }
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) {
    try {
      data = await gunzipAsync(data);
    } catch (err) {
      throw new DataError(`${file}: not a valid gzip file, truncated or corrupt (${reason(err)})`, file);
    }
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The first of `candidates` that is an existing file, or undefined. */
export async function firstExisting(candidates: readonly string[]): Promise<string | undefined> {
  for (const c of candidates) if (await isFile(c)) return c;
  return undefined;
}
