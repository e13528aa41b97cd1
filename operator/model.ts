/** The operator's own view of the objects it handles; operator/kube/ maps client-node's types to these. */
export type Phase = 'Scheduled' | 'Preheating' | 'Ready' | 'Live' | 'SoldOut' | 'Ended' | 'Failed';
export const PHASES: Phase[] = ['Scheduled', 'Preheating', 'Ready', 'Live', 'SoldOut', 'Ended', 'Failed'];

export type ConditionType = 'Preheated' | 'ScaledUp' | 'CapacityReady' | 'Reconciled' | 'Ready';

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

export interface ActivityStatus {
  phase: Phase;
  observedGeneration: number;
  conditions: Condition[];
  stock?: { total: number; remaining: number; sold: number; paid: number; drift: number };
  /** A sale with a waiting room: shoppers queued, admitted ones holding a slot, admissions so far. */
  waitingRoom?: RoomCounts;
  /** Pods the sale's floors want on its targets (placeholders before the floor) and how many are ready. */
  capacity?: { wanted: number; ready: number };
  /** RFC 3339: when the purchase path opens (window.start, or later for a held opening: docs/open-when.md). */
  opensAt?: string;
  nextTransitionTime?: string;
  message?: string;
}

export interface RoomCounts {
  waiting: number;
  active: number;
  admitted: number;
}

export interface ActivityObject {
  namespace: string;
  name: string;
  uid: string;
  generation: number;
  resourceVersion: string;
  deletionTimestamp?: string;
  finalizers: string[];
  annotations: Record<string, string>;
  /** Raw spec as stored (defaults applied by the API server); parsed with zod before use. */
  spec: unknown;
  status?: ActivityStatus;
}

export interface HpaView {
  name: string;
  namespace: string;
  resourceVersion: string;
  minReplicas: number;
  maxReplicas: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The full object for a replace, opaque outside operator/kube/. */
  raw: unknown;
}

export const FINALIZER = 'stampede.dev/cleanup';
export const ALLOW_DELETE_LIVE = 'stampede.dev/allow-delete-live';
export const BASELINE_MIN = 'stampede.dev/baseline-min-replicas';
export const BASELINE_MAX = 'stampede.dev/baseline-max-replicas';
/** The bounds the operator itself last wrote: bounds that differ were set by someone else (helm upgrade). */
export const APPLIED_MIN = 'stampede.dev/applied-min-replicas';
export const APPLIED_MAX = 'stampede.dev/applied-max-replicas';
/**
 * Marks an HPA whose floor the operator manages. An annotation, not a label: Helm owns
 * `app.kubernetes.io/managed-by` on the chart's HPAs and would set it back on every upgrade.
 */
export const MANAGED_BY = 'stampede.dev/managed-by';
export const OPERATOR = 'stampede-operator';
/**
 * The label the chart puts on the Deployments and HPAs the operator may scale (docs/tenancy.md): the
 * operator raises no floor of a Deployment without it and adopts no HPA it did not create without it.
 */
export const SCALABLE = 'stampede.dev/scalable';

export interface DeploymentView {
  replicas: number;
  readyReplicas: number;
  /** Labelled `stampede.dev/scalable: "true"`. */
  scalable: boolean;
  /** The full object (a placeholder copies its pod template), opaque outside operator/kube/ and capacity. */
  raw: unknown;
}
