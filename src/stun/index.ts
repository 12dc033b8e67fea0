/** STUN (RFC 5389): messages, a Binding client over a shared socket, and a Binding server. */
export type { StunAddress } from './address.js';
export * from './message.js';
export * from './client.js';
export * from './server.js';
