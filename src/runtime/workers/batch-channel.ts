/**
 * The hot path to one worker: events batched per tick, encoded once per batch, the buffer
 * transferred; acknowledgements back in batch order, each releasing one mailbox slot per event.
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
  /** `[key₁, event₁, key₂, event₂, …]`, encoded at flush. */
  #batch: unknown[] = [];
  #batchMailboxes: Mailbox[] = [];
  #unacked: Mailbox[][] = [];
  #unackedHead = 0;
  #flushScheduled = false;

  constructor(port: MessagePort, onNotes: (notes: Note[]) => void, open: () => boolean) {
    this.#port = port;
    this.#onNotes = onNotes;
    this.#open = open;
    port.on('message', (message: WorkerMessage) => this.#onMessage(message));
  }

  push(key: number, event: unknown, mailbox: Mailbox): void {
    this.#batch.push(key, event);
    this.#batchMailboxes.push(mailbox);
    if (this.#batchMailboxes.length >= FLUSH_EVENTS) this.flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      if (this.#unackedHead === this.#unacked.length) queueMicrotask(this.#scheduledFlush);
      else setImmediate(this.#scheduledFlush);
    }
  }

  readonly #scheduledFlush = () => {
    if (this.#flushScheduled) this.flush();
  };

  flush(): void {
    this.#flushScheduled = false;
    if (this.#batchMailboxes.length === 0 || !this.#open()) return;
    const batch = toTransferable(this.#packr.pack(this.#batch));
    this.#batch = [];
    this.#unacked.push(this.#batchMailboxes);
    this.#batchMailboxes = [];
    const message: BatchMessage = { batch };
    this.#port.postMessage(message, [batch]);
  }

  /** The worker is gone: every event not acknowledged is released (they are journaled, and replayed on restore). */
  releaseAll(): void {
    for (const mailbox of this.#unacked.slice(this.#unackedHead).flat().concat(this.#batchMailboxes)) mailbox.release();
    this.#unacked = [];
    this.#unackedHead = 0;
    this.#batch = [];
    this.#batchMailboxes = [];
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
    if (message.notes) this.#onNotes(this.#packr.unpack(new Uint8Array(message.notes)) as Note[]);
  }
}
