// What a real node is made of, shared by the harness' parts (and recorded in its slot file).

export interface NodeNetwork {
  slot: number;
  id: string;
  netns: string;
  hostVeth: string;
  /** The host's end of the veth: where pods reach the API server and the platform's servers. */
  hostIp: string;
  /** The node's InternalIP (the kubelet serves logs, exec and port-forward there). */
  nodeIp: string;
  podCidr: string;
  podGateway: string;
}

/**
 * Everything one real node leaves on the machine, so cleanup.ts can take it all away: after a normal stop,
 * after a failed start, and for a run that crashed (its slot file in /run/stampede-node holds this record).
 */
export interface NodeState {
  /** The harness process that owns the node. */
  pid: number;
  /** The node's folder: containerd's root, state and socket, the kubelet's root, pod logs. */
  dir: string;
  net: NodeNetwork;
  /** The kubelet's cgroupRoot, below every cgroup v1 hierarchy: the pods' processes are all inside. */
  cgroupRoot: string;
}
