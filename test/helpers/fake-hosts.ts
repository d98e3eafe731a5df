/**
 * Fake hosts for the unit tests of discovery and peer exchange: they stand in for the node
 * (who is connected, how to dial) and record what the module under test asked of it. They are
 * hosts, not networks: no bytes move, and a dial waits until the test settles it.
 */
import { MeshwireError, type ErrorCode } from '../../src/errors.js';
import type { Discovery, DiscoveryHost } from '../../src/internal.js';
import type { PeerRef, PeersDiscoveredMessage, WithoutTime } from '../../src/messages.js';

/** A dial the fake host started, waiting for the test to settle it. */
export interface PendingDial {
  address: string;
  at: number;
  succeed(): void;
  fail(code?: ErrorCode): void;
}

/** A host whose dials wait for the test to settle them; every call is recorded. */
export class FakeDiscoveryHost implements DiscoveryHost {
  closed = false;
  id = 'm';
  port = 5000;
  slots = 10;
  readonly selfAddresses = new Set<string>();
  readonly connected = new Set<string>();
  readonly dialingNow = new Set<string>();
  readonly dials: PendingDial[] = [];
  readonly reports: WithoutTime<PeersDiscoveredMessage>[] = [];
  discovery: Discovery | undefined;

  isClosed(): boolean {
    return this.closed;
  }
  selfId(): string {
    return this.id;
  }
  selfPort(): number {
    return this.port;
  }
  isSelfAddress(address: string): boolean {
    return this.selfAddresses.has(address);
  }
  isConnected(address: string, id?: string): boolean {
    return this.connected.has(address) || (id !== undefined && this.connected.has(id));
  }
  freeSlots(): number {
    return this.slots;
  }
  isDialing(address: string): boolean {
    return this.dialingNow.has(address);
  }
  /**
   * Like the node's dial: the address counts as being dialled until the dial settles; a success
   * leaves the peer connected, a failure is reported to discovery (which backs the address off).
   */
  dial(address: string): Promise<PeerRef> {
    this.dialingNow.add(address);
    return new Promise((resolve, reject) => {
      this.dials.push({
        address,
        at: Date.now(),
        succeed: () => {
          this.dialingNow.delete(address);
          this.connected.add(address);
          resolve({ id: `id-of-${address}`, name: address, address });
        },
        fail: (code = 'ERR_CONNECTION_REFUSED') => {
          this.dialingNow.delete(address);
          this.discovery?.onDialFailed(address, code === 'ERR_SELF_CONNECTION');
          reject(new MeshwireError(code, `dial ${address} failed`));
        },
      });
    });
  }
  report(message: WithoutTime<PeersDiscoveredMessage>): void {
    this.reports.push(message);
  }

  dialled(): string[] {
    return this.dials.map((d) => d.address);
  }
}
