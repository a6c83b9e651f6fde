/** protocol v1: the wire contract shared by collector, server and web. No I/O, no dependencies. */
export * from './result.js';
export * from './topics.js';
export * from './payloads.js';
export * from './validate.js';
export * from './ws.js';
export * from './seq-ranges.js';
