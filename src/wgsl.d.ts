// Kernels are imported as text: esbuild's 'text' loader in builds, a small plugin under vitest.
declare module '*.wgsl' {
  const source: string;
  export default source;
}

// wgsl_reflect's package "main" is CommonJS inside a "type": "module" package, which Node's ESM
// loader rejects; the ES module file is imported directly and typed from the package's types.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
