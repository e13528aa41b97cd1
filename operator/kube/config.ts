import * as k8s from '@kubernetes/client-node';

/** KUBECONFIG when given, else the in-cluster service account, else ~/.kube/config (client-node's order). */
export function loadKubeConfig(path?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
