import type { ActivitySpec } from '../services/core/activity/spec.js';
import type { KubeClient } from './kube/client.js';
import type { ActivityObject, ActivityStatus, Condition } from './model.js';
import type { NameConflict } from './observe.js';
import { isOpeningOf, openingEvent, opensAt, prevOpensAt } from './reconcile/opening.js';
import { boundaries, computeStatus, type Observed } from './reconcile/status.js';

/** Registers (and preheats, when it is time) the activity with this opening as its start. */
export type RegisterAt = (opensAt: number) => Promise<Observed['preheat'] | NameConflict>;

const messageOf = (err: unknown) => String((err as Error)?.message ?? err);

/**
 * The opening to register before this pass knows its CapacityReady (docs/open-when.md): from the floor
 * stage on the one registered last, if this spec could have given it (the pass's own CapacityReady then
 * moves it if it must, so a steady pass writes nothing); else what opensAt gives without a CapacityReady
 * (the start before the floor stage, the latest opening after it).
 */
export function plannedOpening(spec: ActivitySpec, obj: ActivityObject, now: number): number {
  const b = boundaries(spec);
  const prev = prevOpensAt(obj.status);
  if (spec.openWhen === 'capacityReady' && now >= b.scaleAt && isOpeningOf(spec, b, prev)) return prev;
  return opensAt(spec, b, undefined, prev, now);
}

/**
 * The status, once this pass's CapacityReady has decided the opening: when that moves the opening from the
 * one `o` registered, the activity is registered (and preheated) at the new one first, so the status never
 * says open before Redis and Postgres do. The Observed returned is what the status was computed from.
 */
export async function settleOpening(
  spec: ActivitySpec,
  obj: ActivityObject,
  o: Observed,
  prev: Condition[],
  registerAt: RegisterAt,
): Promise<{ observed: Observed; status: ActivityStatus }> {
  const status = computeStatus(spec, o, prev);
  if (o.opensAt === undefined || o.error !== null) return { observed: o, status };
  const ready = status.conditions.find((c) => c.type === 'CapacityReady');
  const at = opensAt(spec, boundaries(spec), ready, prevOpensAt(obj.status), o.now);
  if (at === o.opensAt) return { observed: o, status };
  let observed: Observed;
  try {
    const reg = await registerAt(at);
    observed =
      reg && 'conflict' in reg
        ? { ...o, error: 'stores: the activity id was claimed by another owner meanwhile' }
        : { ...o, preheat: reg, opensAt: at };
  } catch (err) {
    observed = { ...o, error: `stores: ${messageOf(err)}` };
  }
  return { observed, status: computeStatus(spec, observed, prev) };
}

/**
 * The opening's Events: OpeningHeld (Warning) once per resource and generation in this process (a restart
 * while held may send it once more); OpenedLate (Normal) on the pass a held sale turns open, found from
 * the phase the status had before, so a restart does not repeat it.
 */
export class OpeningReporter {
  private readonly held = new Set<string>();

  constructor(private readonly kube: KubeClient) {}

  async report(obj: ActivityObject, spec: ActivitySpec, status: ActivityStatus, now: number): Promise<void> {
    const b = boundaries(spec, prevOpensAt(status));
    const ready = status.conditions.find((c) => c.type === 'CapacityReady');
    const e = openingEvent(spec, b, ready, { from: obj.status?.phase, to: status.phase }, now);
    if (!e) return;
    const key = `${obj.uid}:${obj.generation}`;
    if (e.reason === 'OpeningHeld') {
      if (this.held.has(key)) return;
      this.held.add(key);
    }
    await this.kube.event(obj, e.type, e.reason, e.message).catch(() => undefined);
  }
}
