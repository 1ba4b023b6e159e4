import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/runtime/index.js';
import { plainLayersTeacher } from '../train/teacher-fixture.js';

describe('automatic stages of a plain LayersModel teacher', () => {
  it('look through the zero padding before strided convs: the stages of an exported zoo resnet20 are its stage outputs', async () => {
    await initBackend('wasm');
    // The shipped resnet20 exported bare: ZeroPadding2D (28 -> 30, 14 -> 16) feeds each stride-2 conv.
    const teacher = await plainLayersTeacher();
    const shapes = teacher.stageIndices.map((i) => teacher.featureShapes[i]);
    // Before: the padding layers were taken as stages (30x30x16, 16x16x32) next to the real ones.
    expect(shapes).toEqual([[28, 28, 16], [14, 14, 32], [7, 7, 64]]);
    teacher.dispose();
  });
});
