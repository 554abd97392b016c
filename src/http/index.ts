// The HTTP API's public surface: build the Fastify app (tests, embedding) or run it on a socket (the CLI).
// See docs/http-api.md for the routes, the auth model and the error codes.
export { buildApp } from './app';
export type { Api, AppDeps, SessionBackend } from './app';
export { startApi } from './server';
export type { RunningApi } from './server';
export { ApiKeyRing, isLoopback, resolveApiKeys } from './auth';
export type { Principal } from './auth';
export { HTTP_ERRORS, HttpError } from './errors';
export type { HttpErrorCode } from './errors';
