/** The fake ConfigHub lives in src/demo/confighub.ts (it is also the sandbox behind `driftwatch demo`). */
export * from '../../src/demo/confighub.js';
