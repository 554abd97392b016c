// A per-process cap on writes waiting on one session, so one hot session cannot queue unbounded work.
// Used by the session routes around every write; a write over the cap is answered 429 with Retry-After.
import { HttpError } from './errors';

export class InFlightWrites {
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly maxPerSession: number,
    private readonly retryAfterSeconds: number,
  ) {}

  /** Runs `write` holding one of the session's slots; throws 429 when all are taken. */
  async run<T>(sessionId: string, write: () => Promise<T>): Promise<T> {
    const count = this.counts.get(sessionId) ?? 0;
    if (count >= this.maxPerSession)
      throw new HttpError('too_many_in_flight', undefined, { retryAfter: this.retryAfterSeconds });
    this.counts.set(sessionId, count + 1);
    try {
      return await write();
    } finally {
      const left = (this.counts.get(sessionId) ?? 1) - 1;
      if (left > 0) this.counts.set(sessionId, left);
      else this.counts.delete(sessionId);
    }
  }
}
