/**
 * The hot path to one worker: events batched per tick, encoded once, the buffer transferred;
 * acknowledgements back in batch order, each releasing one mailbox slot per event.
 *
 * Two ways to encode, fixed per runtime:
 * - objects (no journal): the batch is an array of copies, packed once at flush — one `pack`
 *   call per batch, the cheapest when nothing else needs the bytes;
 * - encoded (`durability: 'journal'` on a durable store): each event is packed once, as it is
 *   accepted, into the batch's buffer (`pushEncoded`), and the journal's append is given a view of
 *   those very bytes — encode once: the same bytes are the journal entry and the batch payload.
 *   The buffer is never written again once the batch leaves (the worker gets a copy), so the
 *   store may read the views until its write commits.
 *
 * At most `MAX_BATCHES_IN_FLIGHT` batches are unacknowledged at once; later ones wait on the host
 * (their events are accepted and journaled already) and leave as acks come back. So a worker's
 * queue stays a fraction of a second of work, and its heartbeat answer never waits behind a flood
 * (measured: with no bound, 1,000,000 events sent as fast as possible made the watchdog terminate
 * workers that were only behind, and dead-letter the event each was processing).
 *
 * A batch is flushed when the current synchronous code ends (a microtask) if the worker has
 * nothing unacknowledged, else at the end of this turn of the event loop (`setImmediate`), or at
 * once when it holds `FLUSH_EVENTS`. An idle worker gets a lone event without delay; a busy one
 * gets larger batches. (Measured: the `setImmediate` hop alone cost ~20 µs of send→snapshot
 * latency on an idle runtime.)
 */
import type { MessagePort } from 'node:worker_threads';
import { createPackr, toTransferable, type BatchMessage, type Note, type WorkerMessage } from '../../protocol/wire.js';

/** Flush a batch as soon as it holds this many events, so one batch stays a short worker turn. */
const FLUSH_EVENTS = 4_096;
/** Batches posted and not yet acknowledged, at most: ~16,000 events of queue in the worker. */
const MAX_BATCHES_IN_FLIGHT = 4;
/** An encoded batch's first buffer; it grows when a batch needs more. */
const BUILDER_BYTES = 64 * 1024;
/**
 * A microtask without `queueMicrotask`, which makes an AsyncResource per call (measured: ~4 µs of
 * an idle send's ~30 µs on the host).
 */
const RESOLVED = Promise.resolve();
/** Watch markers, encoded (positive fixints). */
const MARKERS = [new Uint8Array([0]), new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3])];

/** What the channel needs to know about a session to account for its mailbox. */
export interface Mailbox {
  /** Called once per acknowledged event of this session. */
  release(): void;
}

export class BatchChannel {
  readonly #port: MessagePort;
  readonly #packr = createPackr();
  readonly #onNotes: (notes: Note[]) => void;
  readonly #open: () => boolean;
  /** `[key₁, event₁, key₂, event₂, …]`, encoded at flush (objects mode). */
  #batch: unknown[] = [];
  /** Encoded mode: the batch's msgpack, after a 5-byte array header written at flush. */
  readonly #encoded: boolean;
  #builder: Uint8Array = new Uint8Array(0);
  #view: DataView = new DataView(new ArrayBuffer(0));
  #length = 0;
  #batchMailboxes: Mailbox[] = [];
  #unacked: Mailbox[][] = [];
  #unackedHead = 0;
  /** Batches built while `MAX_BATCHES_IN_FLIGHT` were unacknowledged, in order. */
  #waiting: Array<{ batch: ArrayBuffer; mailboxes: Mailbox[] }> = [];
  #flushScheduled = false;

  constructor(port: MessagePort, onNotes: (notes: Note[]) => void, open: () => boolean, encoded = false) {
    this.#encoded = encoded;
    if (encoded) this.#newBuilder(BUILDER_BYTES);
    this.#port = port;
    this.#onNotes = onNotes;
    this.#open = open;
    port.on('message', (message: WorkerMessage) => this.#onMessage(message));
  }

  /** An event (a copy the caller gave up) or a watch marker (a small integer). */
  push(key: number, event: unknown, mailbox: Mailbox): void {
    if (this.#encoded) this.#append(key, typeof event === 'number' ? MARKERS[event]! : this.#packr.pack(event));
    else this.#batch.push(key, event);
    this.#queued(mailbox);
  }

  /**
   * Encoded mode: an event already packed (`bytes`, read at once: it may be a view of a reused
   * buffer). Returns the view of its copy in the batch: the journal's entry, valid for good.
   */
  pushEncoded(key: number, bytes: Uint8Array, mailbox: Mailbox): Uint8Array {
    const view = this.#append(key, bytes);
    this.#queued(mailbox);
    return view;
  }

  #append(key: number, bytes: Uint8Array): Uint8Array {
    const needed = this.#length + 5 + bytes.byteLength;
    if (needed > this.#builder.length) this.#grow(needed);
    this.#builder[this.#length] = 0xce;
    this.#view.setUint32(this.#length + 1, key);
    const start = this.#length + 5;
    this.#builder.set(bytes, start);
    this.#length = start + bytes.byteLength;
    return this.#builder.subarray(start, this.#length);
  }

  /** Earlier views stay valid: they keep the old buffer, which is never written again. */
  #grow(needed: number): void {
    const old = this.#builder;
    const length = this.#length;
    this.#newBuilder(Math.max(needed, old.length * 2));
    // Everything appended so far moves along (a new builder starts empty).
    this.#builder.set(old.subarray(0, length));
    this.#length = length;
  }

  #newBuilder(bytes: number): void {
    this.#builder = new Uint8Array(bytes);
    this.#view = new DataView(this.#builder.buffer);
    this.#length = 5;
  }

  #queued(mailbox: Mailbox): void {
    this.#batchMailboxes.push(mailbox);
    if (this.#batchMailboxes.length >= FLUSH_EVENTS) this.flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      if (this.#unackedHead === this.#unacked.length) void RESOLVED.then(this.#scheduledFlush);
      else setImmediate(this.#scheduledFlush);
    }
  }

  readonly #scheduledFlush = () => {
    if (this.#flushScheduled) this.flush();
  };

  flush(): void {
    this.#flushScheduled = false;
    if (this.#batchMailboxes.length === 0 || !this.#open()) return;
    const batch = this.#encoded ? this.#takeEncoded() : toTransferable(this.#packr.pack(this.#batch));
    this.#batch = [];
    const mailboxes = this.#batchMailboxes;
    this.#batchMailboxes = [];
    if (this.#waiting.length > 0 || this.#inFlight() >= MAX_BATCHES_IN_FLIGHT) this.#waiting.push({ batch, mailboxes });
    else this.#post(batch, mailboxes);
  }

  #inFlight(): number {
    return this.#unacked.length - this.#unackedHead;
  }

  #post(batch: ArrayBuffer, mailboxes: Mailbox[]): void {
    this.#unacked.push(mailboxes);
    const message: BatchMessage = { batch };
    this.#port.postMessage(message, [batch]);
  }

  /** The encoded batch, copied out (the builder stays for the journal's views); a fresh builder. */
  #takeEncoded(): ArrayBuffer {
    this.#builder[0] = 0xdd;
    this.#view.setUint32(1, this.#batchMailboxes.length * 2);
    const batch = (this.#builder.buffer as ArrayBuffer).slice(0, this.#length);
    this.#newBuilder(Math.max(BUILDER_BYTES, this.#length));
    return batch;
  }

  /** The worker is gone: every event not acknowledged is released (they are journaled, and replayed on restore). */
  releaseAll(): void {
    const waiting = this.#waiting.flatMap(({ mailboxes }) => mailboxes);
    for (const mailbox of this.#unacked.slice(this.#unackedHead).flat().concat(waiting, this.#batchMailboxes)) mailbox.release();
    this.#unacked = [];
    this.#unackedHead = 0;
    this.#waiting = [];
    this.#batch = [];
    this.#batchMailboxes = [];
    if (this.#encoded) this.#newBuilder(BUILDER_BYTES);
  }

  close(): void {
    this.#port.close();
  }

  #onMessage(message: WorkerMessage): void {
    for (let ack = 0; ack < message.acks; ack++) {
      const mailboxes = this.#unacked[this.#unackedHead];
      this.#unacked[this.#unackedHead++] = [];
      if (mailboxes) for (const mailbox of mailboxes) mailbox.release();
    }
    if (this.#unackedHead > 1024 && this.#unackedHead * 2 > this.#unacked.length) {
      this.#unacked = this.#unacked.slice(this.#unackedHead);
      this.#unackedHead = 0;
    }
    // Room again: batches that waited leave, in order.
    while (this.#waiting.length > 0 && this.#inFlight() < MAX_BATCHES_IN_FLIGHT && this.#open()) {
      const next = this.#waiting.shift()!;
      this.#post(next.batch, next.mailboxes);
    }
    if (message.notes) this.#onNotes(this.#packr.unpack(new Uint8Array(message.notes)) as Note[]);
  }
}
