/**
 * The worker's outbox: notes for the host, sent with the next acknowledgement or at the end of
 * this turn of the event loop, encoded together in one buffer that is transferred, not copied.
 *
 * A note that cannot be encoded (a watched session's context holds a Symbol) must not take the
 * others with it: the outbox asks its owner what to send instead (that session's failure).
 */
import { NOTE_INSPECT, createPackr, toTransferable, type Note, type WorkerMessage } from '../../protocol/wire.js';

export type PostToHost = (message: WorkerMessage, transfer: ArrayBuffer[]) => void;

export class Outbox {
  readonly #post: PostToHost;
  /** What to send instead of a note about session `key` that could not be encoded. */
  readonly #unencodable: (key: number, error: unknown) => Note[];
  readonly #packr = createPackr();
  #notes: Note[] = [];
  #scheduled = false;

  constructor(post: PostToHost, unencodable: (key: number, error: unknown) => Note[]) {
    this.#post = post;
    this.#unencodable = unencodable;
  }

  note(note: Note): void {
    this.#notes.push(note);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush(0));
    }
  }

  /** Sends the notes, with `acks` batches acknowledged. */
  flush(acks: number): void {
    this.#scheduled = false;
    if (this.#notes.length === 0) {
      if (acks > 0) this.#post({ acks }, []);
      return;
    }
    const notes = this.#notes;
    this.#notes = [];
    const bytes = toTransferable(this.#pack(notes));
    this.#post({ acks, notes: bytes }, [bytes]);
  }

  #pack(notes: Note[]): Uint8Array {
    try {
      return this.#packr.pack(notes);
    } catch {
      const kept: Note[] = [];
      for (const note of notes) {
        try {
          this.#packr.pack(note);
          kept.push(note);
        } catch (error) {
          if (note[0] !== NOTE_INSPECT) kept.push(...this.#unencodable(note[1], error));
        }
      }
      return this.#packr.pack(kept);
    }
  }
}
