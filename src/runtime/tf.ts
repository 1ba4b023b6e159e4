// The one tfjs instance the toolkit uses. Everything imports tf from here, so a user's tensors and ours share an engine.
import * as tf from '@tensorflow/tfjs';

export { tf };
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Scalar, Rank } from '@tensorflow/tfjs';
