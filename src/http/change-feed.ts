// Change feeds of the API process: the streams of one session (GET /v1/sessions/{id}/events) share one long-poll on
// its actor, so open streams never take more of the actor's in-flight updates than one per API process; a stream
// that is behind catches up from the feed's recent changes, or with its own poll that does not wait.
import type { ChangesAnswer, ChangesOptions } from '../service';
import type { SessionChange } from '../session-changes';

type Poll = (sessionId: string, options: ChangesOptions) => Promise<ChangesAnswer>;

/** Recent changes a feed keeps for streams slightly behind. */
const RECENT = 64;

interface Feed {
  /** The version the feed's last answer left it at. */
  head?: number;
  born?: number;
  recent: SessionChange[];
  /** The long-poll in flight, and the version it asked after. */
  waiting?: { after: number; answer: Promise<ChangesAnswer> };
  streams: number;
  /** Aborts the feed's polls once no stream is left (or the API closes). */
  stop: AbortController;
}

export class ChangeFeeds {
  private readonly feeds = new Map<string, Feed>();

  constructor(
    private readonly poll: Poll,
    private readonly waitMs = 30_000,
  ) {}

  /** Joins the feed of a session for a user; call the returned function when the stream ends. */
  open(
    sessionId: string,
    userId: number,
  ): { next(after: number | undefined): Promise<ChangesAnswer>; close(): void } {
    const key = `${userId}\u0000${sessionId}`;
    let feed = this.feeds.get(key);
    if (!feed) this.feeds.set(key, (feed = { recent: [], streams: 0, stop: new AbortController() }));
    feed.streams++;
    const f = feed;
    return {
      next: (after) => this.next(f, sessionId, userId, after),
      close: () => {
        if (--f.streams > 0) return;
        this.feeds.delete(key);
        f.stop.abort();
      },
    };
  }

  /** Stops every poll (the API is closing). */
  close(): void {
    for (const feed of this.feeds.values()) feed.stop.abort();
    this.feeds.clear();
  }

  /** The changes after `after` for one stream (watchChanges' poll). */
  private async next(
    feed: Feed,
    sessionId: string,
    userId: number,
    after: number | undefined,
  ): Promise<ChangesAnswer> {
    const own = (options: ChangesOptions) =>
      this.poll(sessionId, { ...options, expectedUserId: userId, signal: feed.stop.signal });
    if (after === undefined) return own({});
    const head = feed.head;
    if (head !== undefined && after < head) {
      // Behind the feed: its recent changes when they reach back far enough, else a catch-up of its own.
      const first = feed.recent.findIndex((c) => c.version > after);
      if (first >= 0 && feed.recent[first].version === after + 1)
        return { version: head, bornVersion: feed.born ?? 0, changes: feed.recent.slice(first) };
      return own({ afterVersion: after, waitMs: 0 });
    }
    if (!feed.waiting || feed.waiting.after !== after) {
      const answer = own({ afterVersion: after, waitMs: this.waitMs });
      const waiting = { after, answer };
      feed.waiting = waiting;
      answer.then(
        (a) => {
          if (feed.waiting === waiting) feed.waiting = undefined;
          const last = a.changes[a.changes.length - 1];
          if (!last || (feed.head !== undefined && last.version <= feed.head)) return;
          // The recent changes stay one unbroken run of versions, or are dropped (a resync, a gap).
          const unbroken =
            a.changes.every((c) => c.type !== 'session') &&
            feed.head !== undefined &&
            a.changes[0].version === feed.head + 1;
          feed.recent = unbroken ? [...feed.recent, ...a.changes].slice(-RECENT) : [];
          feed.head = last.version;
          feed.born = a.bornVersion;
        },
        () => {
          if (feed.waiting === waiting) feed.waiting = undefined;
        },
      );
    }
    return feed.waiting.answer;
  }
}
