// Delivery under a 429 storm: Slack calls per delivered message and the drain time after the
// storm (bench/delivery.bench.ts, under vitest because it uses the TypeScript fake Slack).
//   node bench/delivery.mjs
import { spawnSync } from 'node:child_process';

const result = spawnSync('npx', ['vitest', 'run', '--config', 'bench/vitest.config.ts', 'bench/delivery.bench.ts'], { stdio: 'inherit' });
process.exitCode = result.status ?? 1;
