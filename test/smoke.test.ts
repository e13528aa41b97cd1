// Settles the module setup once: jest runs ESM TypeScript and can load @kubernetes/client-node 1.x (ESM
// only) on Node 20. If this fails, every operator test would too.
import * as k8s from '@kubernetes/client-node';

describe('toolchain', () => {
  it('imports the ESM-only Kubernetes client', () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:1');
    expect(typeof kc.makeApiClient(k8s.CoreV1Api).listNamespace).toBe('function');
  });

  it('sees import.meta.url in ESM', () => {
    expect(import.meta.url).toMatch(/^file:/);
  });
});
