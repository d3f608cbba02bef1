/**
 * A pool's live sessions in least-recently-used order: an intrusive doubly linked list through
 * the session records, so a touch is O(1) and never copies anything.
 */
export interface PoolMember {
  lruPrev: PoolMember | undefined;
  lruNext: PoolMember | undefined;
  lastActiveAt: number;
  pins: number;
  /** Events accepted and not yet processed: a session with work queued is mid-turn. */
  readonly inFlight: number;
  /** In a state tagged busy: a turn waiting on its model, with an empty mailbox, is mid-turn too. */
  readonly busy: boolean;
  /** Only an `active` session can be evicted (not one starting, restarting or stopping). */
  readonly status: string;
}

export class Pool<Member extends PoolMember = PoolMember> {
  readonly name: string;
  capacity: number;
  readonly recencyFloorMs: number;
  size = 0;
  /** Least recently used first. */
  #head: Member | undefined;
  #tail: Member | undefined;
  /** Whether the over-capacity warning was logged since the pool was last within capacity. */
  warnedOverCapacity = false;
  /**
   * Called when a member may have become a candidate while the pool is over capacity (its mailbox
   * emptied), so the pool comes back to capacity without waiting for the next spawn.
   */
  onCandidate: ((pool: Pool<Member>) => void) | undefined;

  constructor(name: string, capacity: number, recencyFloorMs: number) {
    this.name = name;
    this.capacity = capacity;
    this.recencyFloorMs = recencyFloorMs;
  }

  add(member: Member, now: number): void {
    member.lastActiveAt = now;
    this.#append(member);
    this.size++;
  }

  remove(member: Member): void {
    this.#unlink(member);
    this.size--;
    if (this.size <= this.capacity) this.warnedOverCapacity = false;
  }

  /** Marks activity: O(1), moves the member to the most-recent end. */
  touch(member: Member, now: number): void {
    member.lastActiveAt = now;
    if (this.#tail === member) return;
    this.#unlink(member);
    this.#append(member);
  }

  /** Least recently used first; for operators and the eviction choice. */
  *leastRecent(): IterableIterator<Member> {
    for (let member = this.#head; member; member = member.lruNext as Member | undefined) yield member;
  }

  #append(member: Member): void {
    member.lruPrev = this.#tail;
    member.lruNext = undefined;
    if (this.#tail) this.#tail.lruNext = member;
    else this.#head = member;
    this.#tail = member;
  }

  #unlink(member: Member): void {
    if (member.lruPrev) member.lruPrev.lruNext = member.lruNext;
    else if (this.#head === member) this.#head = member.lruNext as Member | undefined;
    if (member.lruNext) member.lruNext.lruPrev = member.lruPrev;
    else if (this.#tail === member) this.#tail = member.lruPrev as Member | undefined;
    member.lruPrev = member.lruNext = undefined;
  }
}
