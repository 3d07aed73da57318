/** The kubeconfig a client needs for the fake apiserver: its URL, its CA and a bearer token. */

/** A kubeconfig YAML (caData, server URL, bearer token) whose current context is `context`. */
export function kubeconfigYaml(url: string, caPem: string, token: string, context = 'fake'): string {
  const caData = Buffer.from(caPem).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: fake-cluster',
    '  cluster:',
    `    server: ${url}`,
    `    certificate-authority-data: ${caData}`,
    'users:',
    '- name: fake-user',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    `- name: ${JSON.stringify(context)}`,
    '  context:',
    '    cluster: fake-cluster',
    '    user: fake-user',
    `current-context: ${JSON.stringify(context)}`,
    '',
  ].join('\n');
}
