export { startNatsServer, freePort, natsServerBinary, type NatsServerHandle } from './nats-server.js';
