/**
 * Gathers the calls made in one tick into one request: `call(item)` resolves with this item's
 * answer from `send(items)`, which runs once per microtask with everything gathered so far, or
 * as soon as `maxBatch` items are gathered, so the other side starts on a large burst while the
 * caller is still producing it. Spawning or stopping 10,000 sessions costs a few control round
 * trips, not 10,000.
 */
export class TickBatcher<Item, Answer> {
  readonly #send: (items: Item[]) => Promise<Answer[]>;
  readonly #maxBatch: number;
  #pending: Array<{ item: Item; resolve(answer: Answer): void; reject(error: unknown): void }> = [];

  constructor(send: (items: Item[]) => Promise<Answer[]>, maxBatch = 500) {
    this.#send = send;
    this.#maxBatch = maxBatch;
  }

  call(item: Item): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const size = this.#pending.push({ item, resolve, reject });
      if (size >= this.#maxBatch) this.#flush();
      else if (size === 1) queueMicrotask(() => this.#flush());
    });
  }

  #flush(): void {
    const pending = this.#pending;
    if (pending.length === 0) return;
    this.#pending = [];
    this.#send(pending.map((entry) => entry.item)).then(
      (answers) => {
        pending.forEach((entry, index) => {
          if (index < answers.length) entry.resolve(answers[index]!);
          else entry.reject(new Error('the worker answered fewer items than it was sent'));
        });
      },
      (error: unknown) => pending.forEach((entry) => entry.reject(error)),
    );
  }
}
