// The benchmark's workflow bundle: the no-op floor workflow (not product code).
// Bundled once by bench/stack.ts and loaded by the floor worker in bench/worker-process.ts.
export { benchFloor, benchFloorLoad } from './floor';
