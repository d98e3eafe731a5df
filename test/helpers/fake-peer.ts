/**
 * Peers for the unit tests of the layers above `session/` (peer table, heartbeat, discovery,
 * peer exchange): plain objects with a session's fields and a stand-in connection that carries
 * only what those layers read of it. No bytes flow through them; tests that need bytes use a
 * real {@link Connection} over MemoryNetwork streams or loopback TCP instead.
 */
import type { Connection, Peer } from '../../src/internal.js';
import type { Direction } from '../../src/messages.js';

/** What a fake peer may be given; everything else has a plain default. */
export interface FakePeerOptions {
  id: string;
  direction?: Direction;
  address?: string;
  name?: string;
  advertised?: boolean;
  /** What `connection.queuedBytes` reports (the heartbeat and peer exchange read it). */
  queuedBytes?: number;
  lastSeen?: number;
}

/** A connected peer that no socket backs. */
export function fakePeer(options: FakePeerOptions): Peer {
  const { id, direction = 'outbound', address = `${id}.test:1`, queuedBytes = 0, lastSeen = 0 } = options;
  const connection = { queuedBytes } as unknown as Connection;
  return {
    id,
    name: options.name ?? id,
    address,
    remoteAddress: address,
    direction,
    connection,
    advertised: options.advertised ?? true,
    connectedAt: 0,
    lastSeen,
  };
}
