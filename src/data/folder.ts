import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { DataError } from './errors.js';
import { isDirectory } from './files.js';
import type { RawImageData } from './types.js';

const EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

/** A decoded image: RGBA, 4 bytes per pixel. */
interface Rgba {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

function reason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

/** Decode a PNG or JPEG file to RGBA (format chosen by the file's content, not its extension). */
export function decodeImage(file: string, bytes: Uint8Array): Rgba {
  const isPng = bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!isPng && !isJpeg) {
    throw new DataError(`${file}: cannot decode image: not a PNG or JPEG file (unrecognised header)`, file);
  }
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
    }
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    if (!(img.width > 0 && img.height > 0) || img.data.length < img.width * img.height * 4) {
      throw new Error('no image data');
    }
    return { width: img.width, height: img.height, data: img.data };
  } catch (err) {
    throw new DataError(`${file}: cannot decode ${isPng ? 'PNG' : 'JPEG'} image (${reason(err)})`, file);
  }
}

function isGray(img: Rgba): boolean {
  const d = img.data;
  for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 1] || d[i] !== d[i + 2]) return false;
  return true;
}

/**
 * Write one RGBA image into `out` at `offset` as H x W x C uint8 (C = 1: luma 0.299 R + 0.587 G + 0.114 B; alpha is
 * dropped), resized with bilinear interpolation (half-pixel centres, like tf.image.resizeBilinear with
 * halfPixelCenters; no antialiasing) when its size differs.
 */
function writeResized(img: Rgba, h: number, w: number, c: number, out: Uint8Array, offset: number): void {
  const { width: iw, height: ih, data } = img;
  const sy = ih / h;
  const sx = iw / w;
  const px = (y: number, x: number, ch: number): number => {
    const i = (y * iw + x) * 4;
    if (c === 3) return data[i + ch]!;
    return 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
  };
  let o = offset;
  for (let y = 0; y < h; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), ih - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, ih - 1);
    const ty = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), iw - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, iw - 1);
      const tx = fx - x0;
      for (let ch = 0; ch < c; ch++) {
        const top = px(y0, x0, ch) * (1 - tx) + px(y0, x1, ch) * tx;
        const bottom = px(y1, x0, ch) * (1 - tx) + px(y1, x1, ch) * tx;
        out[o++] = Math.min(255, Math.max(0, Math.round(top * (1 - ty) + bottom * ty)));
      }
    }
  }
}

/** Class names for a one-line message: the first 8, then how many more. */
function nameList(names: readonly string[]): string {
  return names.length > 8 ? `${names.slice(0, 8).join(', ')}, ... (${names.length - 8} more)` : names.join(', ');
}

export interface ReadImageFolderOptions {
  /** Output size [H, W] (or one number for square). Default: the size of the first image (in sorted order). */
  readonly size?: number | readonly [number, number];
  /** 1 (luma) or 3 (RGB). Default: 1 when every image is gray (R = G = B everywhere), else 3. */
  readonly channels?: 1 | 3;
  /**
   * The classes to label with, by name (a test split gets its training split's names): label k is `classNames[k]`.
   * Every class folder must be one of them (else a DataError naming the folder); a class with no folder, or an empty
   * one, has no images and is named in the result's `note`. Default: the class folders found, sorted.
   */
  readonly classNames?: readonly string[];
}

/**
 * Image folder: `root/<class>/<image>.{png,jpg,jpeg}`. Classes are the sub-directories, sorted by name (code-point
 * order); files within a class are sorted by name. Every image is decoded (pngjs / jpeg-js) and resized to one size.
 * An empty class folder, a root without class folders or an undecodable image is an error naming the path.
 * With `classNames` (another split's classes) the labels are positions in that list, matched by folder name; a
 * folder not in the list is a DataError naming it, and classes without images are said in `note`.
 */
export async function readImageFolder(root: string, options: ReadImageFolderOptions = {}): Promise<RawImageData> {
  if (!(await isDirectory(root))) throw new DataError(`${root}: image folder not found (expected root/<class>/*.png|jpg)`, root);
  const entries = await readdir(root, { withFileTypes: true });
  const folders = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  if (folders.length === 0) {
    throw new DataError(`${root}: no class folders; expected root/<class>/*.png|jpg with one sub-directory per class`, root);
  }
  const given = options.classNames;
  const classNames = given === undefined ? folders : [...given];
  const labelOf = new Map(classNames.map((name, k) => [name, k]));
  if (given !== undefined) {
    const unknown = folders.filter((f) => !labelOf.has(f));
    if (unknown.length > 0) {
      throw new DataError(
        `${join(root, unknown[0]!)}: class folder '${unknown[0]}' is not a class of the training split ` +
          `(${nameList(classNames)}); rename it to one of them or add it to the training split`,
        join(root, unknown[0]!),
      );
    }
  }
  const files: { file: string; label: number }[] = [];
  const present = new Set<string>();
  for (const name of folders) {
    const dir = join(root, name);
    const names = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isFile() && EXTENSIONS.has(extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort();
    if (names.length === 0) {
      // Another split's classes may be absent here (said in the note); a class of this split's own may not be empty.
      if (given !== undefined) continue;
      throw new DataError(`${dir}: empty class folder; expected at least one .png, .jpg or .jpeg image`, dir);
    }
    present.add(name);
    for (const n of names) files.push({ file: join(dir, n), label: labelOf.get(name)! });
  }
  if (files.length === 0) throw new DataError(`${root}: no images in its class folders (expected .png, .jpg or .jpeg)`, root);
  const absent = classNames.filter((name) => !present.has(name));
  const note =
    absent.length > 0
      ? `${root} has no images of ${absent.length} of the ${classNames.length} classes (${nameList(absent)}); ` +
        `its metrics cover the other classes`
      : undefined;

  // Decode one image at a time into the output (never all decoded images at once: a folder of photos would not fit).
  let h = 0;
  let w = 0;
  let rgb = new Uint8Array(0);
  let allGray = true;
  const c = options.channels ?? 3;
  for (let i = 0; i < files.length; i++) {
    const { file } = files[i]!;
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new DataError(`${file}: cannot read file (${reason(err)})`, file);
    }
    const img = decodeImage(file, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    if (i === 0) {
      [h, w] =
        options.size === undefined
          ? [img.height, img.width]
          : typeof options.size === 'number'
            ? [options.size, options.size]
            : [options.size[0], options.size[1]];
      if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) {
        throw new DataError(`image folder size must be positive integers, got ${h}x${w}`, root);
      }
      rgb = new Uint8Array(files.length * h * w * c);
    }
    if (options.channels === undefined && allGray) allGray = isGray(img);
    writeResized(img, h, w, c, rgb, i * h * w * c);
  }
  let images = rgb;
  let channels = c;
  if (options.channels === undefined && allGray) {
    // Every image is gray: keep one channel (R = G = B, so R is the luma exactly).
    channels = 1;
    images = new Uint8Array(files.length * h * w);
    for (let i = 0; i < images.length; i++) images[i] = rgb[3 * i]!;
  }
  return {
    images,
    labels: Int32Array.from(files, (f) => f.label),
    classNames,
    inputShape: [h, w, channels],
    source: root,
    ...(note !== undefined ? { note } : {}),
  };
}
