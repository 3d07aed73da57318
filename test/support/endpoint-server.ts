/** The endpoint stand-in lives in src/demo/endpoint.ts (it is also the sandbox behind `driftwatch demo`). */
export * from '../../src/demo/endpoint.js';
