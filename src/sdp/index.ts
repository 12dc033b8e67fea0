/** The SDP layer: the RFC 8866 model, its parser and writer, and RFC 3264 offer/answer. */
export * from './attributes.js';
export * from './crypto.js';
export * from './direction.js';
export * from './errors.js';
export * from './format.js';
export * from './model.js';
export * from './negotiate.js';
export * from './parse.js';
export * from './payload-types.js';
