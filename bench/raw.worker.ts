// Baseline (b): plain XState actors in a raw worker thread fed batched postMessage (structured
// clone). No actorhost: what a user could write by hand, and close to the ceiling.
import { parentPort } from 'node:worker_threads';
import { createActor, type AnyActorRef, type AnyStateMachine } from 'xstate';
import { getHeapStatistics } from 'node:v8';

type Message =
  | { kind: 'load'; url: string }
  | { kind: 'spawn'; count: number }
  | { kind: 'batch'; items: unknown[] }
  | { kind: 'watch'; index: number }
  | { kind: 'memory' }
  | { kind: 'clear' }
  | { kind: 'close' };

const port = parentPort!;
let actors: AnyActorRef[] = [];
let machine: AnyStateMachine;
/** Answers of machines that use actorhost's `reply` (the turn scenario), sent with the batch's ack. */
let replies: unknown[] = [];
(globalThis as Record<symbol, unknown>)[Symbol.for('actorhost.replyHook')] = {
  reply: (_system: object, to: string, value: unknown) => replies.push(to, value),
};

port.on('message', async (message: Message) => {
  switch (message.kind) {
    case 'load':
      machine = ((await import(message.url)) as { default: AnyStateMachine }).default;
      port.postMessage({ kind: 'loaded' });
      break;
    case 'spawn':
      for (let i = 0; i < message.count; i++) actors.push(createActor(machine).start());
      port.postMessage({ kind: 'spawned' });
      break;
    case 'batch': {
      const items = message.items;
      for (let i = 0; i < items.length; i += 2) actors[items[i] as number]!.send(items[i + 1] as { type: string });
      port.postMessage(replies.length > 0 ? { kind: 'ack', replies } : { kind: 'ack' });
      if (replies.length > 0) replies = [];
      break;
    }
    case 'watch':
      actors[message.index]!.subscribe((snapshot) => port.postMessage({ kind: 'snapshot', context: snapshot.context }));
      break;
    case 'memory':
      (globalThis as { gc?: () => void }).gc?.();
      port.postMessage({ kind: 'memory', heapUsed: getHeapStatistics().used_heap_size });
      break;
    case 'clear':
      for (const actor of actors) actor.stop();
      actors = [];
      port.postMessage({ kind: 'cleared' });
      break;
    case 'close':
      port.close();
      break;
  }
});
