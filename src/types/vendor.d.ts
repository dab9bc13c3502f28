// The echogarden WASM packages ship no type declarations; their default export is an Emscripten module factory.
declare module '@echogarden/speex-resampler-wasm/simd' {
  const factory: (opts?: object) => Promise<unknown>;
  export default factory;
}
declare module '@echogarden/fvad-wasm' {
  const factory: (opts?: object) => Promise<unknown>;
  export default factory;
}
