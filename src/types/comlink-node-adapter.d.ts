// comlink ships its Node adapter without a declaration file beside the .mjs (it has one beside
// the .ts build, which no `exports` entry points to). This is that declaration, narrowed to the
// MessagePort we pass it.
declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink';
  import type { MessagePort } from 'node:worker_threads';
  export default function nodeEndpoint(endpoint: MessagePort): Endpoint;
}
