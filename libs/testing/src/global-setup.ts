import { natsServerBinary } from './nats-server.js';

/** Fails the whole run at once, with the fix in the message, when nats-server is missing. */
export default function setup(): void {
  natsServerBinary();
}
