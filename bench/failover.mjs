// Failover of two replicas (SIGTERM and kill -9, client-go's default lease settings) and
// observation → Slack on PostgreSQL vs SQLite (bench/failover.bench.ts, under vitest because it
// uses the TypeScript fakes). Needs `npm run build` (the replicas run dist/).
//   node bench/failover.mjs            BENCH_FAILOVERS=10 by default; BENCH_LEASE=short for 3s/2s/500ms
import { spawnSync } from 'node:child_process';

const result = spawnSync('npx', ['vitest', 'run', '--config', 'bench/vitest.config.ts', 'bench/failover.bench.ts'], { stdio: 'inherit' });
process.exitCode = result.status ?? 1;
