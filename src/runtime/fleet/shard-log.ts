/**
 * A shard's log in JetStream: every write a shard's owner makes is a message on the shard's own
 * subject, published only if the subject's last message is the one this owner wrote last
 * (`expect.lastSubjectSequence`). So writes are **fenced** (shared/FLEET.md, "Storage"): a new
 * owner first writes an epoch marker; from then on, a write of the previous owner — paused past
 * its lease, still believing it owns the shard — is refused by the server (`FencedError`), and
 * nothing it writes lands after the new owner's first write.
 *
 * A takeover is `read` (the whole subject, in order, and the last sequence read), then `open`
 * with that sequence: the marker is conditional on exactly what was replayed, so a previous
 * owner's write that lands after the replay read the log fails the takeover (read again) instead
 * of being missed by the new owner's state while its sender was told it was kept.
 *
 * One write in flight per shard: `append` waits for the previous one (the caller gathers a tick's
 * writes into one message).
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';

/** A write refused because another owner wrote to the shard since: this host lost it. */
export class FencedError extends Error {
  override name = 'FencedError';
  /**
   * Certainly not written: refused at its first attempt, or never sent (the log was fenced
   * already). `false` when an earlier attempt timed out: it may have landed before the other
   * owner's write (and that owner's replay has it).
   */
  readonly unwritten: boolean;

  constructor(message: string, options: { cause?: unknown; unwritten: boolean }) {
    super(message, { cause: options.cause });
    this.unwritten = options.unwritten;
  }
}

/** A publish whose acknowledgement did not come is retried (same message id) this many times in all. */
const PUBLISH_ATTEMPTS = 20;

export interface LogEntry {
  seq: number;
  data: Uint8Array;
}

export class ShardLog {
  readonly subject: string;
  readonly epoch: number;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #stream: string;
  #last: number;
  #tail: Promise<unknown> = Promise.resolve();
  #fenced = false;
  #written = 0;

  private constructor(js: JetStreamClient, jsm: JetStreamManager, stream: string, subject: string, epoch: number, last: number) {
    this.#js = js;
    this.#jsm = jsm;
    this.#stream = stream;
    this.subject = subject;
    this.epoch = epoch;
    this.#last = last;
  }

  /**
   * Takes the shard's log over under `epoch` (the lease's), after replaying it up to `after` (the
   * `last` of the caller's `read`): writes the epoch marker conditional on `after`. Rejects with
   * `FencedError` if anything was written since — a previous owner's late write the replay did not
   * see, or another taker's marker: the caller reads again.
   */
  static async open(options: { js: JetStreamClient; jsm: JetStreamManager; stream: string; subject: string; epoch: number; marker: Uint8Array; after: number }): Promise<ShardLog> {
    const log = new ShardLog(options.js, options.jsm, options.stream, options.subject, options.epoch, options.after);
    await log.append(options.marker);
    return log;
  }

  /** Another owner wrote to it: this host's writes are refused from now on. */
  get fenced(): boolean {
    return this.#fenced;
  }

  /** Appends after this owner's previous write; resolves with its sequence once JetStream has it. */
  append(data: Uint8Array): Promise<number> {
    const write = this.#tail.then(async () => {
      if (this.#fenced) throw new FencedError(`shard log ${this.subject}: fenced, another owner wrote to it`, { unwritten: true });
      // A message id: a publish retried after its acknowledgement was lost (a timeout, a NATS
      // restart) is recognised by JetStream as the same write, not written twice.
      const msgID = `${this.subject}:${this.epoch}:${++this.#written}`;
      for (let attempt = 1; ; attempt++) {
        try {
          const ack = await this.#js.publish(this.subject, data, { msgID, expect: { lastSubjectSequence: this.#last } });
          this.#last = ack.seq;
          return ack.seq;
        } catch (error) {
          if (/wrong last sequence/i.test(String((error as Error).message))) {
            // A retry whose first attempt landed (its acknowledgement lost): the last message is ours.
            const landed = attempt > 1 ? await this.#lastIf(msgID) : undefined;
            if (landed !== undefined) {
              this.#last = landed;
              return landed;
            }
            this.#fenced = true;
            throw new FencedError(`shard log ${this.subject}: another owner wrote to it (epoch ${this.epoch} is over)`, { cause: error, unwritten: attempt === 1 });
          }
          if (attempt >= PUBLISH_ATTEMPTS) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
        }
      }
    });
    this.#tail = write.catch(() => {});
    return write;
  }

  /** The subject's last sequence if its message is the one with id `msgID`. */
  async #lastIf(msgID: string): Promise<number | undefined> {
    try {
      const message = await this.#jsm.streams.getMessage(this.#stream, { last_by_subj: this.subject });
      return message?.header?.get('Nats-Msg-Id') === msgID ? message.seq : undefined;
    } catch {
      return undefined;
    }
  }

  /** Every message of the subject, in order (a takeover's replay), and the last sequence read (0: none). */
  static async read(options: {
    js: JetStreamClient;
    jsm: JetStreamManager;
    stream: string;
    subject: string;
    /** The whole replay's bound; default 30 s. */
    timeoutMs?: number;
  }): Promise<{ entries: LogEntry[]; last: number }> {
    const last = await lastSequence(options.jsm, options.stream, options.subject);
    const entries: LogEntry[] = [];
    if (last === 0) return { entries, last };
    const consumer = await options.js.consumers.get(options.stream, {
      // A string, not an array: nats-server 2.9 knows only the single `filter_subject`.
      filter_subjects: options.subject,
    });
    const messages = await consumer.consume();
    // Bounded: a stream that cannot deliver (no leader, a node behind) fails the takeover, which is tried again.
    let stalled = false;
    const timer = setTimeout(() => {
      stalled = true;
      void messages.close();
    }, options.timeoutMs ?? 30_000);
    try {
      for await (const message of messages) {
        entries.push({ seq: message.seq, data: message.data });
        if (message.seq >= last) break;
      }
    } finally {
      clearTimeout(timer);
    }
    await messages.close();
    if (stalled || (entries.at(-1)?.seq ?? 0) < last) throw new Error(`shard log ${options.subject}: the replay stopped at ${entries.at(-1)?.seq ?? 0} of ${last}; try again`);
    return { entries, last };
  }
}

/** The subject's last sequence in the stream (0: none yet). */
async function lastSequence(jsm: JetStreamManager, stream: string, subject: string): Promise<number> {
  try {
    const message = await jsm.streams.getMessage(stream, { last_by_subj: subject });
    return message?.seq ?? 0;
  } catch (error) {
    if (/no message found/i.test(String((error as Error).message))) return 0;
    throw error;
  }
}
