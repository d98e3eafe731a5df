/**
 * The peers LAN discovery knows: verified records in, candidates and departures out. Keeps the
 * newest record per peer ID (older ones are replays), expires peers whose records are not
 * refreshed, and remembers verified records so a repeat costs no signature check. No sockets.
 */
import { formatAddress, isLoopbackHost } from '../../address.js';
import type { LanCounters } from './counters.js';
import type { LanCandidate, LanGoneReason } from './options.js';
import type { KnownAnswer } from './packets.js';
import type { LanKeys } from './private-keys.js';
import { openAnnouncement, SERVICE_TYPE, type Announcement, type LanMode } from './record.js';
import type { LanSigner } from './signer.js';

/** Verified records remembered at most. */
const VERIFIED_CACHE = 1024;
/** Addresses and instance names remembered per peer at most. */
const MAX_ADDRESSES_PER_PEER = 16;
const MAX_INSTANCES_PER_PEER = 8;
/** Fractions of a record's TTL at which it is asked for again. */
const REFRESH_POINTS = [0.75, 0.8, 0.85, 0.9];

/** A peer currently known from the LAN. */
export interface LanPeer {
  id: string;
  addresses: string[];
  /** When its record expires unless refreshed (local clock, ms). */
  expiresAt: number;
  /** When the newest record we accepted was issued (the peer's clock, ms). */
  issuedAt: number;
}

interface PeerState {
  id: string;
  /** When its record was last refreshed (local clock) and the TTL it came with, ms. */
  refreshedAt: number;
  ttlMs: number;
  issuedAt: number;
  expiresAt: number;
  addresses: Set<string>;
  /** Instance labels (one per interface it announces on). */
  instances: Set<string>;
}

/** What {@link LanPeers} needs from its owner. */
export interface LanPeersHost {
  mode: LanMode;
  /** This node's ID: its own records are ignored. */
  ownId: string;
  signer: LanSigner | undefined;
  keys: LanKeys | undefined;
  /** Our record TTL, ms: peers with more than half of it left are listed as known answers. */
  ttlMs: number;
  maxPeers: number;
  clockSkewMs: number;
  counters: LanCounters;
  /** A new address of a peer (goes through the rate limit). */
  offer(candidate: LanCandidate): void;
  /** A peer left or expired. */
  gone(id: string, reason: LanGoneReason): void;
}

/** The set of peers found on the LAN. */
export class LanPeers {
  readonly #host: LanPeersHost;
  readonly #peers = new Map<string, PeerState>();
  readonly #verified = new Map<string, Announcement>();

  constructor(host: LanPeersHost) {
    this.#host = host;
  }

  list(): LanPeer[] {
    return [...this.#peers.values()].map((p) => ({
      id: p.id,
      addresses: [...p.addresses],
      expiresAt: p.expiresAt,
      issuedAt: p.issuedAt,
    }));
  }

  /** Instances to list as known answers: peers with more than half our TTL left. */
  knownAnswers(now: number): KnownAnswer[] {
    const known: KnownAnswer[] = [];
    for (const peer of this.#peers.values()) {
      const left = peer.expiresAt - now;
      if (left <= this.#host.ttlMs / 2) continue;
      for (const name of peer.instances) known.push({ instance: name, ttl: Math.floor(left / 1000) });
    }
    return known;
  }

  /**
   * Takes one received TXT record of instance `name` (full name, lower case) with its DNS TTL
   * in ms. Invalid records are counted by reason; valid ones update the peer.
   */
  receive(
    txt: (string | Uint8Array)[],
    name: string,
    ttlMs: number,
    fromLoopback: boolean,
    now: number,
  ): void {
    const a = this.#verify(txt, now);
    if (!a || a.id === this.#host.ownId) return;
    this.#accept(a, name.slice(0, name.length - SERVICE_TYPE.length - 1), ttlMs, fromLoopback, now);
  }

  /**
   * Time until the next point at which a record should be asked for again, or `undefined`:
   * RFC 6762 §5.2 cache maintenance, at 75, 80, 85 and 90 % of its TTL (the caller adds up to
   * 5 % at random), so a record is refreshed before it expires however long the query
   * interval has grown.
   */
  nextRefreshIn(now: number): number | undefined {
    let soonest: number | undefined;
    for (const peer of this.#peers.values()) {
      for (const fraction of REFRESH_POINTS) {
        const at = peer.refreshedAt + fraction * peer.ttlMs;
        if (at <= now) continue;
        if (soonest === undefined || at - now < soonest) soonest = at - now;
        break;
      }
    }
    return soonest;
  }

  /** True when some record has passed the first refresh point (75 % of its TTL). */
  needsRefresh(now: number): boolean {
    for (const peer of this.#peers.values())
      if (now - peer.refreshedAt >= REFRESH_POINTS[0]! * peer.ttlMs) return true;
    return false;
  }

  /** True when we hold a record of some peer at IP `ip`, fresh or not. */
  knownAt(ip: string): boolean {
    const prefix = ip.includes(':') ? `[${ip}]:` : `${ip}:`;
    for (const peer of this.#peers.values())
      if ([...peer.addresses].some((a) => a.startsWith(prefix))) return true;
    return false;
  }

  /** Drops peers whose records have expired. */
  sweep(now: number): void {
    for (const peer of [...this.#peers.values()]) if (peer.expiresAt <= now) this.#drop(peer, 'expired');
  }

  /**
   * Checks a TXT record. A node repeats the same signed record until it re-signs it, so
   * records already verified are remembered (bounded) and only their expiry is checked again:
   * on a busy LAN this saves almost every signature check.
   */
  #verify(txt: (string | Uint8Array)[], now: number): Announcement | undefined {
    const host = this.#host;
    const key = txt.map((s) => (typeof s === 'string' ? s : Buffer.from(s).toString('latin1'))).join('\n');
    const cached = this.#verified.get(key);
    if (cached) {
      if (cached.expiresAt + host.clockSkewMs >= now) return cached;
      this.#verified.delete(key);
    }
    const opened = openAnnouncement(txt, {
      mode: host.mode,
      signer: host.signer,
      keys: host.keys,
      now,
      clockSkewMs: host.clockSkewMs,
    });
    if (!opened.ok) {
      host.counters.rejected[opened.reason]++;
      return undefined;
    }
    if (this.#verified.size >= VERIFIED_CACHE) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(key, opened.announcement);
    return opened.announcement;
  }

  #accept(a: Announcement, label: string, ttlMs: number, fromLoopback: boolean, now: number): void {
    const counters = this.#host.counters;
    const peer = this.#peers.get(a.id);
    if (peer && a.issuedAt < peer.issuedAt) {
      counters.rejected.replay++;
      return;
    }
    if (a.goodbye || ttlMs === 0) {
      if (!peer) return;
      counters.received++;
      this.#drop(peer, 'goodbye');
      return;
    }
    if (!peer && this.#peers.size >= this.#host.maxPeers) {
      counters.rejected.full++;
      return;
    }
    counters.received++;
    const state: PeerState = peer ?? {
      id: a.id,
      refreshedAt: now,
      ttlMs,
      issuedAt: 0,
      expiresAt: 0,
      addresses: new Set(),
      instances: new Set(),
    };
    if (!peer) this.#peers.set(a.id, state);
    const newer = a.issuedAt > state.issuedAt;
    state.issuedAt = a.issuedAt;
    state.expiresAt = now + ttlMs;
    state.refreshedAt = now;
    state.ttlMs = ttlMs;
    if (state.instances.size < MAX_INSTANCES_PER_PEER) state.instances.add(label);
    const addresses = new Set<string>();
    for (const ip of a.addresses) {
      // A loopback address is only meaningful from the same host; unspecified and multicast never.
      if (
        (isLoopbackHost(ip) && !fromLoopback) ||
        ip === '0.0.0.0' ||
        ip === '::' ||
        /^(22[4-9]|23\d)\./.test(ip)
      )
        continue;
      addresses.add(formatAddress(ip, a.port));
    }
    const fresh = [...addresses].filter((address) => !state.addresses.has(address));
    // A newer record (say, after a restart on another port) replaces the addresses; an equal
    // one heard on another interface adds to them.
    if (newer && fresh.length > 0) state.addresses = addresses;
    else
      for (const address of fresh)
        if (state.addresses.size < MAX_ADDRESSES_PER_PEER) state.addresses.add(address);
    for (const address of fresh)
      this.#host.offer({ address, id: a.id, source: 'lan', verified: this.#host.mode === 'secure' });
  }

  #drop(peer: PeerState, reason: LanGoneReason): void {
    this.#peers.delete(peer.id);
    this.#host.counters.gone++;
    this.#host.gone(peer.id, reason);
  }
}
