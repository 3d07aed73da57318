import { ConfigError, parseConfig } from '../../src/config.js';

/** The problems `parseConfig` names for `value`, each with its key path; none for a valid config. */
export function problems(value: unknown): string[] {
  try {
    parseConfig(value);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}
