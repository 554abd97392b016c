// The benchmark's workflow bundle: the no-op floor workflow (the product's workflows are bundled separately).
// Bundled once by bench/stack.ts and loaded by the floor worker in bench/worker-process.ts.
export { benchFloor } from './floor';
