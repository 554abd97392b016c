// The workflow bundle's entry: every workflow type the worker registers.
// Deterministic code only: no Node built-ins, no pg, no runtime imports (a lint rule keeps it so).
export { sessionActor } from './session-actor';
export { sessionCleanup } from './cleanup';
