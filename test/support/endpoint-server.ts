/** The endpoint stand-in lives in src/sandbox/endpoint.ts (it is also the sandbox behind `driftwatch demo`). */
export * from '../../src/sandbox/endpoint.js';
