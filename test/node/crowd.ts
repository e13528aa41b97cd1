// Shoppers for the real node's seckill pods. There is no kube-proxy (docs/real-node.md): a shopper does what
// it would, sending each purchase to an address the seckill Service's EndpointSlices list as ready.
import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { NodeStack } from './stack.js';

export interface Answer {
  status: number;
  orderId?: string;
  code?: string;
}

/** The seckill Service's ready endpoints as base URLs (pod address and container port). */
export async function seckillUrls(s: NodeStack): Promise<string[]> {
  const discovery = s.cluster.kubeConfig().makeApiClient(k8s.DiscoveryV1Api);
  const slices = await discovery.listNamespacedEndpointSlice({
    namespace: s.namespace,
    labelSelector: `kubernetes.io/service-name=${s.fullname}-seckill`,
  });
  return slices.items.flatMap((slice) => {
    const port = slice.ports?.[0]?.port;
    return (slice.endpoints ?? [])
      .filter((e) => e.conditions?.ready === true)
      .flatMap((e) => e.addresses.map((a) => `http://${a}:${port}`));
  });
}

let users = 0;

/** A shopper: a user id, its JWT and an address of its own (through the one proxy hop the chart trusts). */
export async function shopper(s: NodeStack): Promise<{ id: string; token: string; ip: string }> {
  const n = ++users;
  const id = `node-${process.pid}-${n}`;
  return {
    id,
    token: await s.tokens.sign({ userId: id, role: 'user' }),
    ip: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
  };
}

/** One purchase; a network error (no answer) throws. */
export async function buy(
  url: string,
  activity: string,
  who: { token: string; ip: string },
  key: string = randomUUID(),
): Promise<Answer> {
  const res = await fetch(`${url}/seckill/${activity}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${who.token}`,
      'content-type': 'application/json',
      'idempotency-key': key,
      'x-forwarded-for': who.ip,
    },
    body: '{}',
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json().catch(() => ({}))) as { orderId?: string; code?: string };
  return { status: res.status, orderId: body.orderId, code: body.code };
}
