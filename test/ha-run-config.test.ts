/**
 * `driftwatch run` with `ha` but no `store.url`: the process exits 2 before it connects to
 * anything, naming both keys (needs `npm run build`).
 */
import { describe, expect, it } from 'vitest';
import { startFakeSlack } from './support/fake-slack.js';
import { Product, writeConfig } from './support/product.js';

describe('driftwatch run with ha', () => {
  it('exits 2 naming ha and store.url when the store is a SQLite file', async () => {
    const slack = await startFakeSlack();
    try {
      const { path } = writeConfig({ slack: { channel: 'C0ALERTS' }, clusters: [{ name: 'home', context: 'fake' }], ha: { cluster: 'home' } });
      const product = Product.start(['run', '--config', path], { SLACK_BOT_TOKEN: 'xoxb-1-2-ha-config', SLACK_APP_TOKEN: 'xapp-1-A0-ha-config', SLACK_API_URL: slack.apiUrl });
      expect(await product.exited).toBe(2);
      expect(product.stderr).toMatch(/\bha\b/);
      expect(product.stderr).toContain('store.url');
      // Nothing was contacted: no Slack call, no socket.
      expect(slack.calls).toEqual([]);
      expect(slack.socketSpans).toEqual([]);
    } finally {
      await slack.close();
    }
  });
});
