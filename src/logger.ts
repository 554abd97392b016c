// The structured JSON logger (pino) every long-running part shares. Logs carry session ids, never message text.
// Used by the runtime, the worker, the API and the CLI.
import pino, { Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = 'info', name = 'durable-sessions'): Logger {
  return pino({ name, level, redact: { paths: ['*.content', '*.messages', '*.user', '*.assistant'], remove: true } });
}

/** A logger that writes nothing (library use, tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
