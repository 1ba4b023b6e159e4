/** Training kernels the wasm backend lacks (filled in below). */
export function registerWasmTrainingKernels(): void {}
