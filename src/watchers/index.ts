import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ObservationSink, Watcher } from './types.js';

/** The watchers a config asks for, each with its clients. */
export function createWatchers(config: Config, sink: ObservationSink, log: Logger, metrics: Metrics): Watcher[] {
  const watchers: Watcher[] = [];
  void config;
  void sink;
  void log;
  void metrics;
  return watchers;
}
