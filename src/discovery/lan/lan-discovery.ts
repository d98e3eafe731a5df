/**
 * LAN discovery over mDNS / DNS-SD: announces this node as `_meshwire._tcp.local` and browses
 * for others, one multicast socket per interface. It only produces candidates (and goodbyes);
 * dialing them, under the node's own limits, is the caller's business.
 *
 * Timing: two announcements at start (0 s, 1 s); browse queries at 0 s, then after 1, 2, 4 ...
 * seconds up to a cap, each carrying the peers already known (RFC 6762 known-answer
 * suppression: they stay quiet until half their TTL has passed); answers to others' queries
 * after 20-120 ms (400-500 ms when more known answers are announced), at most one per second per
 * interface; a goodbye on close.
 */
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import makeMdns from 'multicast-dns';
import dnsPacket, { type Packet } from 'dns-packet';
import { formatAddress, isLoopbackHost } from '../../address.js';
import { MeshwireError } from '../../errors.js';
import { CandidateGate } from './candidate-gate.js';
import { onInterface, selectInterfaces, type LanInterface } from './interfaces.js';
import {
  resolveLanOptions,
  type LanCandidate,
  type LanDiscoveryOptions,
  type ResolvedLanOptions,
} from './options.js';
import {
  FLAG_TRUNCATED,
  asksForUs,
  buildQueries,
  buildResponse,
  extractInstances,
  instanceName,
  knownAnswerLabels,
  knownAnswerTtl,
  type KnownAnswer,
} from './packets.js';
import { deriveLanKeys, TAG_WINDOW_MS, type LanKeys } from './private-keys.js';
import {
  encodeTxt,
  instanceLabel,
  openAnnouncement,
  signAnnouncement,
  type Announcement,
  SERVICE_TYPE,
  type RejectReason,
} from './record.js';

const MDNS_GROUP = '224.0.0.251';
/** RFC 6762 §6: do not multicast the same record more often than once per second. */
const MIN_RESPONSE_GAP_MS = 1_000;
const MAX_PENDING_REPLIES = 256;
const VERIFIED_CACHE = 1024;

/** Counters of one {@link LanDiscovery}, for tests, benchmarks and `getInfo`. */
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
  /** Candidates handed on, and dropped by the rate limit's full queue. */
  candidates: number;
  rateDropped: number;
  /** Peers dropped on goodbye or expiry. */
  gone: number;
  /** UDP payload bytes sent and received. */
  bytesSent: number;
  bytesReceived: number;
  packetsReceived: number;
}

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
  issuedAt: number;
  expiresAt: number;
  addresses: Set<string>;
  instances: Set<string>;
}

/** A query heard from one source, until we answer it (or learn we need not). */
interface Reply {
  timer: NodeJS.Timeout;
  /** It listed our record with more than half its TTL left. */
  suppressed: boolean;
  /** Instance labels it listed as known (across its continuation packets). */
  known: Set<string>;
}

/** `send` exists on a multicast-dns instance but not in its type definitions. */
interface RawSend {
  send(packet: Packet, cb: (err?: Error | null) => void): void;
}

interface Endpoint {
  iface: LanInterface;
  mdns: makeMdns.MulticastDNS;
  record?: { announcement: Announcement; txt: string[]; instance: string };
  replies: Map<string, Reply>;
  lastSentAt: number;
  deferred?: NodeJS.Timeout;
}

function emptyRejections(): Record<RejectReason, number> {
  return {
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
  };
}

/** Announces this node on the LAN and reports the meshwire nodes it finds there. */
export class LanDiscovery {
  readonly #o: ResolvedLanOptions;
  readonly #id: string;
  readonly #keys: LanKeys | undefined;
  readonly #peers = new Map<string, PeerState>();
  readonly #endpoints: Endpoint[] = [];
  readonly #gate: CandidateGate<LanCandidate>;
  /** Identifies our own queries when they loop back (several instances may share an address). */
  readonly #queryId = randomInt(1, 65536);
  readonly #counters: LanCounters = {
    announced: 0,
    queries: 0,
    goodbyes: 0,
    received: 0,
    rejected: emptyRejections(),
    candidates: 0,
    rateDropped: 0,
    gone: 0,
    bytesSent: 0,
    bytesReceived: 0,
    packetsReceived: 0,
  };
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Records already verified, by their TXT bytes (see #verify). */
  readonly #verified = new Map<string, Announcement>();
  #queryInterval: number;
  #queryTimer: NodeJS.Timeout | undefined;
  /** The wait of the query timer now running (what a skipped query waits again). */
  #queryWait = 0;
  #state: 'new' | 'started' | 'closed' = 'new';

  /** @throws MeshwireError `ERR_INVALID_OPTION` naming an invalid option. */
  constructor(options: LanDiscoveryOptions) {
    this.#o = resolveLanOptions(options);
    this.#id = this.#o.signer?.id ?? this.#o.id!;
    this.#keys = this.#o.networkKey ? deriveLanKeys(this.#o.networkKey) : undefined;
    this.#queryInterval = this.#o.queryIntervalMs;
    this.#gate = new CandidateGate(
      { ratePerSecond: this.#o.maxCandidatesPerSecond, burst: this.#o.candidateBurst, maxQueued: 1024 },
      (candidate) => {
        this.#counters.candidates++;
        this.#o.onCandidate(candidate);
      },
    );
  }

  /** A snapshot of the counters. */
  get counters(): LanCounters {
    return {
      ...this.#counters,
      rejected: { ...this.#counters.rejected },
      rateDropped: this.#gate.dropped,
    };
  }

  /** Peers currently known. */
  peers(): LanPeer[] {
    return [...this.#peers.values()].map((p) => ({
      id: p.id,
      addresses: [...p.addresses],
      expiresAt: p.expiresAt,
      issuedAt: p.issuedAt,
    }));
  }

  /** Interfaces in use (after `start`). */
  get interfaces(): string[] {
    return this.#endpoints.map((e) => e.iface.name);
  }

  /**
   * Opens one socket per interface, announces twice and starts browsing.
   *
   * @throws MeshwireError `ERR_INVALID_OPTION` for an unknown interface, `ERR_DISCOVERY_SOCKET`
   * when a socket cannot be opened (everything opened so far is closed again).
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new MeshwireError('ERR_CLOSED', 'LAN discovery can be started once');
    this.#state = 'started';
    try {
      for (const iface of selectInterfaces(this.#o.interfaces)) this.#endpoints.push(await this.#open(iface));
    } catch (err) {
      await this.#destroySockets();
      this.#state = 'closed';
      throw err;
    }
    for (const ep of this.#endpoints) this.#announce(ep);
    this.#after(1_000, () => this.#endpoints.forEach((ep) => this.#announce(ep)));
    this.#query();
    this.#sweepLater();
  }

  /** Sends a goodbye on every interface, then closes the sockets. Idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasStarted = this.#state === 'started';
    this.#state = 'closed';
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#gate.close();
    for (const ep of this.#endpoints) {
      for (const r of ep.replies.values()) clearTimeout(r.timer);
      clearTimeout(ep.deferred);
    }
    if (wasStarted) {
      await Promise.all(
        this.#endpoints.map(async (ep) => {
          const bye = this.#makeRecord(ep, true);
          await this.#send(ep, this.#responsePacket(bye, 0));
          this.#counters.goodbyes++;
        }),
      );
    }
    await this.#destroySockets();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #open(iface: LanInterface): Promise<Endpoint> {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    socket.on('message', (msg: Buffer) => {
      this.#counters.bytesReceived += msg.length;
      this.#counters.packetsReceived++;
    });
    // Bound to the wildcard (a socket bound to a unicast address receives no multicast); the
    // interface address picks where we send and which group membership we join.
    const mdns = makeMdns({
      socket,
      interface: iface.ipv4,
      bind: '0.0.0.0',
      port: this.#o.mdnsPort,
      ip: MDNS_GROUP,
      multicast: true,
      loopback: true,
      ttl: 255,
    });
    await new Promise<void>((resolve, reject) => {
      mdns.once('ready', resolve);
      mdns.once('error', (err: Error) =>
        reject(
          new MeshwireError('ERR_DISCOVERY_SOCKET', `mDNS socket on ${iface.name}: ${err.message}`, {
            cause: err,
          }),
        ),
      );
    });
    const ep: Endpoint = { iface, mdns, replies: new Map(), lastSentAt: 0 };
    mdns.removeAllListeners('error');
    mdns.on('error', (err: Error) => this.#o.onWarning?.(err));
    mdns.on('warning', (err: Error) => this.#o.onWarning?.(err));
    mdns.on('response', (packet: Packet, rinfo: dgram.RemoteInfo) => this.#onResponse(packet, rinfo));
    mdns.on('query', (packet: Packet, rinfo: dgram.RemoteInfo) => this.#onQuery(ep, packet, rinfo));
    return ep;
  }

  async #destroySockets(): Promise<void> {
    await Promise.all(
      this.#endpoints.map((ep) => new Promise<void>((resolve) => ep.mdns.destroy(() => resolve()))),
    );
  }

  #after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#state === 'started') fn();
    }, ms);
    this.#timers.add(timer);
  }

  /** Our record for one interface, re-signed when half its TTL has passed or the tag window turned. */
  #makeRecord(ep: Endpoint, goodbye = false): NonNullable<Endpoint['record']> {
    const now = Date.now();
    const current = ep.record;
    if (
      !goodbye &&
      current &&
      now - current.announcement.issuedAt < this.#o.ttlMs / 2 &&
      Math.floor(now / TAG_WINDOW_MS) === Math.floor(current.announcement.issuedAt / TAG_WINDOW_MS)
    )
      return current;
    const fields = {
      mode: this.#o.mode,
      id: this.#id,
      port: this.#o.port,
      addresses: ep.iface.addresses,
      issuedAt: now,
      expiresAt: now + 2 * this.#o.ttlMs,
      goodbye,
    };
    const announcement = this.#o.signer ? signAnnouncement(fields, this.#o.signer) : fields;
    const record = {
      announcement,
      txt: encodeTxt(announcement, this.#keys),
      instance: instanceLabel(announcement, this.#keys),
    };
    if (!goodbye) ep.record = record;
    return record;
  }

  #responsePacket(record: NonNullable<Endpoint['record']>, ttlSeconds: number): Packet {
    return buildResponse({
      instance: record.instance,
      port: this.#o.port,
      txt: record.txt,
      addresses: record.announcement.addresses,
      ttl: ttlSeconds,
    });
  }

  #send(ep: Endpoint, packet: Packet): Promise<void> {
    this.#counters.bytesSent += dnsPacket.encodingLength(packet);
    return new Promise((resolve) =>
      (ep.mdns as unknown as RawSend).send(packet, (err?: Error | null) => {
        if (err) this.#o.onWarning?.(err);
        resolve();
      }),
    );
  }

  #announce(ep: Endpoint): void {
    ep.lastSentAt = Date.now();
    this.#counters.announced++;
    void this.#send(ep, this.#responsePacket(this.#makeRecord(ep), Math.ceil(this.#o.ttlMs / 1000)));
  }

  /** Instance labels we would list as known answers: peers with more than half their TTL left. */
  #knownAnswers(now: number): KnownAnswer[] {
    const known: KnownAnswer[] = [];
    for (const peer of this.#peers.values()) {
      const left = peer.expiresAt - now;
      if (left <= this.#o.ttlMs / 2) continue;
      for (const name of peer.instances) known.push({ instance: name, ttl: Math.floor(left / 1000) });
    }
    return known;
  }

  #query(): void {
    const known = this.#knownAnswers(Date.now());
    for (const ep of this.#endpoints) {
      for (const packet of buildQueries(known)) {
        packet.id = this.#queryId;
        this.#counters.queries++;
        void this.#send(ep, packet);
      }
    }
    const wait = this.#queryInterval;
    this.#queryInterval = Math.min(this.#queryInterval * 2, this.#o.maxQueryIntervalMs);
    this.#scheduleQuery(wait);
  }

  /** Next query after `wait` ms plus up to 20 % jitter, so equal nodes do not query in step. */
  #scheduleQuery(wait: number): void {
    this.#queryWait = wait;
    if (this.#queryTimer) {
      clearTimeout(this.#queryTimer);
      this.#timers.delete(this.#queryTimer);
    }
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        this.#queryTimer = undefined;
        if (this.#state === 'started') this.#query();
      },
      wait * (1 + Math.random() * 0.2),
    );
    this.#queryTimer = timer;
    this.#timers.add(timer);
  }

  #onQuery(ep: Endpoint, packet: Packet, rinfo: dgram.RemoteInfo): void {
    if (this.#state !== 'started' || packet.id === this.#queryId) return;
    // With several interfaces every socket hears every packet: answer on the one it came from.
    if (this.#endpoints.length > 1 && !onInterface(rinfo.address, ep.iface)) return;
    const record = this.#makeRecord(ep);
    // Several nodes may share an address (and port 5353): the query ID tells their queries apart.
    const source = `${rinfo.address}:${rinfo.port}#${packet.id ?? 0}`;
    const listed = knownAnswerTtl(packet, record.instance);
    const suppress = listed !== undefined && listed * 1000 >= this.#o.ttlMs / 2;
    let incoming = ep.replies.get(source);
    if (!incoming) {
      // A continuation packet (only known answers) of a query we did not see opens nothing.
      if (!asksForUs(packet, record.instance) || ep.replies.size >= MAX_PENDING_REPLIES) return;
      const truncated = ((packet.flags ?? 0) & FLAG_TRUNCATED) !== 0;
      const reply: Reply = {
        suppressed: false,
        known: new Set(),
        timer: setTimeout(
          () => {
            ep.replies.delete(source);
            if (!reply.suppressed && this.#state === 'started') this.#replyOn(ep);
          },
          truncated ? randomInt(400, 501) : randomInt(20, 121),
        ),
      };
      ep.replies.set(source, reply);
      incoming = reply;
    }
    incoming.suppressed ||= suppress;
    for (const label of knownAnswerLabels(packet)) if (incoming.known.size < 256) incoming.known.add(label);
    if (((packet.flags ?? 0) & FLAG_TRUNCATED) === 0) this.#maybeSkipOwnQuery(incoming.known);
  }

  /**
   * RFC 6762 §7.3, duplicate question suppression: another node just asked our question, and
   * every answer it already knows we know too, so each answer our own query would draw is
   * coming anyway (answers are multicast). Count its query as ours: the next one waits a full
   * interval. This keeps a quiet LAN at about one query per interval, not one per node.
   */
  #maybeSkipOwnQuery(theirs: Set<string>): void {
    if (!this.#queryTimer) return;
    const ours = new Set(this.#knownAnswers(Date.now()).map((k) => k.instance));
    for (const label of theirs) if (!ours.has(label)) return;
    this.#scheduleQuery(this.#queryWait);
  }

  /** Answers on `ep`, at most once per second: answers due sooner are folded into one. */
  #replyOn(ep: Endpoint): void {
    const wait = ep.lastSentAt + MIN_RESPONSE_GAP_MS - Date.now();
    if (wait <= 0) return this.#announce(ep);
    if (ep.deferred) return;
    ep.deferred = setTimeout(() => {
      ep.deferred = undefined;
      if (this.#state === 'started') this.#announce(ep);
    }, wait);
  }

  #onResponse(packet: Packet, rinfo: dgram.RemoteInfo): void {
    if (this.#state !== 'started') return;
    const { instances } = extractInstances(packet);
    const own = new Set(
      this.#endpoints.map((ep) => ep.record && instanceName(ep.record.instance).toLowerCase()),
    );
    const now = Date.now();
    for (const found of instances) {
      if (own.has(found.name)) continue;
      const a = this.#verify(found.txt, now);
      if (!a) continue;
      if (a.id === this.#id) continue;
      this.#accept(
        a,
        found.name,
        Math.min(found.ttl * 1000, this.#o.ttlMs * 30),
        isLoopbackHost(rinfo.address),
        now,
      );
    }
  }

  /**
   * Checks a TXT record. A node repeats the same signed record until it re-signs it, so
   * records already verified are remembered (bounded) and only their expiry is checked again:
   * on a busy LAN this saves almost every signature check.
   */
  #verify(txt: (string | Uint8Array)[], now: number): Announcement | undefined {
    const key = txt.map((s) => (typeof s === 'string' ? s : Buffer.from(s).toString('latin1'))).join('\n');
    const cached = this.#verified.get(key);
    if (cached) {
      if (cached.expiresAt + this.#o.clockSkewMs >= now) return cached;
      this.#verified.delete(key);
    }
    const opened = openAnnouncement(txt, {
      mode: this.#o.mode,
      signer: this.#o.signer,
      keys: this.#keys,
      now,
      clockSkewMs: this.#o.clockSkewMs,
    });
    if (!opened.ok) {
      this.#counters.rejected[opened.reason]++;
      return undefined;
    }
    if (this.#verified.size >= VERIFIED_CACHE) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(key, opened.announcement);
    return opened.announcement;
  }

  #accept(a: Announcement, instance: string, ttlMs: number, fromLoopback: boolean, now: number): void {
    const peer = this.#peers.get(a.id);
    if (peer && a.issuedAt < peer.issuedAt) {
      this.#counters.rejected.replay++;
      return;
    }
    if (a.goodbye || ttlMs === 0) {
      if (!peer) return;
      this.#counters.received++;
      this.#drop(peer, 'goodbye');
      return;
    }
    if (!peer && this.#peers.size >= this.#o.maxPeers) {
      this.#counters.rejected.full++;
      return;
    }
    this.#counters.received++;
    const state = peer ?? { id: a.id, issuedAt: 0, expiresAt: 0, addresses: new Set(), instances: new Set() };
    if (!peer) this.#peers.set(a.id, state);
    const newer = a.issuedAt > state.issuedAt;
    state.issuedAt = a.issuedAt;
    state.expiresAt = now + ttlMs;
    const label = instance.slice(0, instance.length - SERVICE_TYPE.length - 1);
    if (state.instances.size < 8) state.instances.add(label);
    const addresses = new Set<string>();
    for (const ip of a.addresses) {
      // A loopback or unspecified address is only meaningful from the same host.
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
    // one from another interface adds to them.
    if (newer && fresh.length > 0) state.addresses = addresses;
    else for (const address of fresh) if (state.addresses.size < 16) state.addresses.add(address);
    for (const address of fresh)
      this.#gate.offer(address, { address, id: a.id, source: 'lan', verified: this.#o.mode === 'secure' });
  }

  #drop(peer: PeerState, reason: 'goodbye' | 'expired'): void {
    this.#peers.delete(peer.id);
    this.#gate.forget((c) => c.id === peer.id);
    this.#counters.gone++;
    this.#o.onGone?.(peer.id, reason);
  }

  #sweepLater(): void {
    this.#after(Math.min(1_000, Math.max(100, this.#o.ttlMs / 4)), () => {
      const now = Date.now();
      for (const peer of [...this.#peers.values()]) if (peer.expiresAt <= now) this.#drop(peer, 'expired');
      this.#sweepLater();
    });
  }
}
