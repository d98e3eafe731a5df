/** A request of ours that a peer has not answered yet, as membership keeps it (one per peer). */
import type { PeerInfo } from './types.js';

export interface Pending {
  info: PeerInfo;
  deadline: number;
  /**
   * `join`: our JOIN to a contact; `neighbor`: our NEIGHBOR request; `probe`: a re-join probe
   * (a one-step SHUFFLE); `merge`: a NEIGHBOR request that merges two split overlays.
   */
  kind: 'join' | 'neighbor' | 'probe' | 'merge';
  /** A probe of a node that looks like another group's (outsider-probes.ts): its own merge rule. */
  outsider?: boolean;
}
