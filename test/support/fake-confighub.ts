/** The fake ConfigHub lives in src/sandbox/confighub.ts (it is also the sandbox behind `driftwatch demo`). */
export * from '../../src/sandbox/confighub.js';
