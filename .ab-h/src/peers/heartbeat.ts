import { randomBytes } from 'node:crypto';
import type { PingFrame, PongFrame } from '../codec/frame.js';
import { MeshwireError } from '../errors.js';
import type { DebugMessage, MaintenanceCleanupMessage, WithoutTime } from '../messages.js';
import { peerRef, type Peer } from './peer.js';

/** What the heartbeat needs from the node: three verbs, nothing else. */
export interface HeartbeatHost {
  /** Queues a control frame to `peer` (a failure drops the peer; the host reports it). */
  send(peer: Peer, frame: PingFrame | PongFrame): void;
  /** Drops a silent peer with the timeout error. */
  dropSilent(peer: Peer, error: MeshwireError): void;
  /** Reports a message (debug ping/pong, maintenance cleanup). */
  report(message: HeartbeatMessage): void;
}

/** The messages the heartbeat reports (without their time stamp). */
export type HeartbeatMessage = WithoutTime<DebugMessage | MaintenanceCleanupMessage>;

/** Settings of the heartbeat. */
export interface HeartbeatOptions {
  /** A peer heard from less recently than this is dropped at the next tick. */
  peerTimeoutMs: number;
  /** Pings carry a random nonce for RTT (native protocol); compat pings carry none. */
  withNonce: boolean;
  /** Leave answering pings to a peer that leaves more than this unread in its queue. */
  backedUpBytes: number;
  /** Report every ping and pong. */
  debug: boolean;
}

/**
 * Liveness and round-trip times: PING every peer each maintenance period, answer PINGs with
 * PONGs, measure RTT from the nonce, and drop peers silent for longer than the peer timeout.
 * Any frame from a peer counts as a sign of life ({@link Heartbeat.heard}), not only PONGs.
 */
export class Heartbeat {
  readonly #host: HeartbeatHost;
  readonly #options: HeartbeatOptions;

  constructor(host: HeartbeatHost, options: HeartbeatOptions) {
    this.#host = host;
    this.#options = options;
  }

  /** Records that `peer` sent something at `now`. */
  heard(peer: Peer, now: number): void {
    peer.lastSeen = now;
  }

  /** Sends one ping (with a nonce when the protocol carries one, for RTT). */
  ping(peer: Peer, now: number): void {
    const { withNonce } = this.#options;
    const nonce = withNonce ? randomBytes(8).readBigUInt64BE() : 0n;
    peer.pingNonce = withNonce ? nonce : undefined;
    peer.pingSentAt = now;
    this.#host.send(peer, { type: 'ping', nonce });
    if (this.#options.debug) this.#host.report({ type: 'ping', peer: peerRef(peer), direction: 'sent' });
  }

  /**
   * Answers a PING, unless the peer leaves more than a high-water mark of our data unread:
   * answering a peer that does not read only queues replies, and a peer flooding pings could
   * otherwise make this node hold many times what it sends. Its liveness does not suffer: the
   * timeout counts any frame received.
   */
  onPing(peer: Peer, frame: PingFrame): void {
    if (this.#options.debug) this.#host.report({ type: 'ping', peer: peerRef(peer), direction: 'received' });
    if (peer.connection.queuedBytes <= this.#options.backedUpBytes)
      this.#host.send(peer, { type: 'pong', nonce: frame.nonce });
  }

  /** Takes the RTT from a PONG that answers our ping in flight. */
  onPong(peer: Peer, frame: PongFrame, now: number): void {
    if (peer.pingSentAt !== undefined && (peer.pingNonce === undefined || peer.pingNonce === frame.nonce)) {
      peer.rttMs = now - peer.pingSentAt;
      peer.pingSentAt = undefined;
    }
    if (this.#options.debug) {
      this.#host.report({
        type: 'pong',
        peer: peerRef(peer),
        direction: 'received',
        ...(peer.rttMs !== undefined ? { rttMs: peer.rttMs } : {}),
      });
    }
  }

  /** The maintenance round: drops silent peers, pings the others. */
  tick(peers: Iterable<Peer>, now: number): void {
    for (const peer of [...peers]) {
      if (now - peer.lastSeen > this.#options.peerTimeoutMs) {
        this.#host.report({ type: 'maintenance-cleanup', peer: peerRef(peer), reason: 'timeout' });
        this.#host.dropSilent(
          peer,
          new MeshwireError('ERR_PEER_TIMEOUT', `no frame from ${peer.name} for ${now - peer.lastSeen} ms`),
        );
      } else {
        this.ping(peer, now);
      }
    }
  }
}
