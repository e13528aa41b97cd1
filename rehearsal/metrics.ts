import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as k8s from '@kubernetes/client-node';

/**
 * A minimal `metrics.k8s.io/v1beta1` server for the rehearsal cluster: the API server proxies to it through
 * an APIService, and the HPA controller reads pod CPU from it. No container runs (kwok simulates the pods),
 * so the CPU of every container of a Running pod is whatever the rehearsal set for its namespace (0 unless
 * set): `setCpu` in-process, or `PUT /rehearsal/cpu {namespace, millicores}` from outside.
 * It answers every request without authentication: it listens on loopback only, for a throwaway cluster.
 */
export class MetricsServer {
  private readonly cpu = new Map<string, number>();
  private server: Server | null = null;
  private core: k8s.CoreV1Api | null = null;

  /** `kubeConfig` is asked once, when the server starts listening (the API server's port is known then). */
  constructor(private readonly kubeConfig: () => k8s.KubeConfig) {}

  /** CPU in millicores each container of the namespace's Running pods reports from now on. */
  setCpu(namespace: string, millicores: number): void {
    this.cpu.set(namespace, millicores);
  }

  async listen(port: number, tls: { key: Buffer; cert: Buffer }): Promise<void> {
    this.core = this.kubeConfig().makeApiClient(k8s.CoreV1Api);
    const server = createServer(tls, (req, res) => {
      this.handle(req, res).catch((err: unknown) => send(res, 500, { message: String(err) }));
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const path = url.pathname.replace(/\/$/, '');
    if (req.method === 'PUT' && path === '/rehearsal/cpu') return this.control(req, res);
    if (['/healthz', '/readyz', '/livez'].includes(path)) return void res.end('ok');
    if (path === '/apis/metrics.k8s.io/v1beta1') return send(res, 200, DISCOVERY);
    const m =
      /^\/apis\/metrics\.k8s\.io\/v1beta1(?:\/namespaces\/([^/]+))?\/(pods|nodes)(?:\/([^/]+))?$/.exec(path);
    if (!m) return send(res, 404, status(404, 'NotFound', `no route ${path}`));
    const [, namespace, kind, name] = m;
    if (kind === 'nodes') return send(res, 200, list('NodeMetricsList', []));
    const pods = await this.podMetrics(namespace, url.searchParams.get('labelSelector') ?? undefined);
    if (!name) return send(res, 200, list('PodMetricsList', pods));
    const one = pods.find((p) => p.metadata.name === name);
    return one ? send(res, 200, one) : send(res, 404, status(404, 'NotFound', `podmetrics ${name}`));
  }

  private async podMetrics(namespace: string | undefined, labelSelector: string | undefined) {
    const core = this.core as k8s.CoreV1Api;
    const pods = namespace
      ? await core.listNamespacedPod({ namespace, labelSelector })
      : await core.listPodForAllNamespaces({ labelSelector });
    // Sampled now over one second: the HPA takes a sample as valid once it postdates the pod's readiness.
    const timestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return pods.items
      .filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp)
      .map((p) => ({
        kind: 'PodMetrics',
        apiVersion: 'metrics.k8s.io/v1beta1',
        metadata: { name: p.metadata?.name ?? '', namespace: p.metadata?.namespace ?? '' },
        timestamp,
        window: '1s',
        containers: (p.spec?.containers ?? []).map((c) => ({
          name: c.name,
          usage: { cpu: `${this.cpu.get(p.metadata?.namespace ?? '') ?? 0}m`, memory: '64Mi' },
        })),
      }));
  }

  private async control(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const parsed = JSON.parse(body || '{}') as { namespace?: unknown; millicores?: unknown };
    if (
      typeof parsed.namespace !== 'string' ||
      typeof parsed.millicores !== 'number' ||
      parsed.millicores < 0
    )
      return send(res, 400, { message: 'body: {"namespace": string, "millicores": number >= 0}' });
    this.setCpu(parsed.namespace, parsed.millicores);
    send(res, 200, { namespace: parsed.namespace, millicores: parsed.millicores });
  }
}

const DISCOVERY = {
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: 'metrics.k8s.io/v1beta1',
  resources: [
    { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
    { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
  ],
};

function list(kind: string, items: unknown[]) {
  return { kind, apiVersion: 'metrics.k8s.io/v1beta1', metadata: {}, items };
}

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
}

function send(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** The APIService and the ExternalName Service through which the API server reaches the server on loopback. */
export function metricsApiObjects(port: number): k8s.KubernetesObject[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'rehearsal-metrics', namespace: 'kube-system' },
      spec: { type: 'ExternalName', externalName: 'localhost', ports: [{ port, protocol: 'TCP' }] },
    } as k8s.V1Service,
    {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: 'v1beta1.metrics.k8s.io' },
      spec: {
        group: 'metrics.k8s.io',
        version: 'v1beta1',
        service: { namespace: 'kube-system', name: 'rehearsal-metrics', port },
        insecureSkipTLSVerify: true,
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    } as k8s.KubernetesObject,
  ];
}
