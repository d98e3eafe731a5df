import type { RejectReason } from './record.js';

/** Counters of one `LanDiscovery`, for tests, benchmarks and the node's info. */
export interface LanCounters {
  /** Announcement / answer packets sent (all interfaces). */
  announced: number;
  /** Query packets sent. */
  queries: number;
  /** Goodbye packets sent. */
  goodbyes: number;
  /** Valid announcements of other nodes received (repeats included). */
  received: number;
  /** Ignored announcements by reason. */
  rejected: Record<RejectReason, number>;
  /** Candidates handed on. */
  candidates: number;
  /** Candidates dropped because the rate limit's queue was full. */
  rateDropped: number;
  /** Peers dropped on goodbye or expiry. */
  gone: number;
  /** UDP payload bytes sent and received, and packets received. */
  bytesSent: number;
  bytesReceived: number;
  packetsReceived: number;
}

/** All counters at zero. */
export function emptyCounters(): LanCounters {
  return {
    announced: 0,
    queries: 0,
    goodbyes: 0,
    received: 0,
    rejected: {
      malformed: 0,
      version: 0,
      'other-mode': 0,
      'wrong-id': 0,
      signature: 0,
      expired: 0,
      replay: 0,
      'not-member': 0,
      private: 0,
      full: 0,
    },
    candidates: 0,
    rateDropped: 0,
    gone: 0,
    bytesSent: 0,
    bytesReceived: 0,
    packetsReceived: 0,
  };
}
