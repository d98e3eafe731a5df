// Slightly over ~400 lines: the mDNS announce / query / answer / goodbye cycle shares its timers
// and peer table; records, packets and sockets are in their own modules.
/**
 * LAN discovery over mDNS / DNS-SD: announces this node as `_meshwire._tcp.local` and browses
 * for others, one multicast socket per interface. It only produces candidates (and goodbyes);
 * dialing them, under the node's own limits, is the caller's business.
 *
 * Timing: two announcements at start (0 s, 1 s); browse queries at 0 s, then after 1, 2, 4 ...
 * seconds up to a cap, each carrying the peers already known (RFC 6762 known-answer
 * suppression: they stay quiet until half their TTL has passed); answers to others' queries
 * after 20-120 ms (400-500 ms when more known answers are announced), at most one per second per
 * interface; records asked for again at 75-90 % of their TTL; our query skipped when someone
 * else just asked it (RFC 6762 §7.3); a goodbye on close.
 */
import type dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import dnsPacket, { type Packet } from 'dns-packet';
import { isLoopbackHost } from '../../address.js';
import { MeshwireError } from '../../errors.js';
import { openMdnsSocket, type MdnsSocket } from './mdns-socket.js';
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
} from './packets.js';
import { deriveLanKeys, TAG_WINDOW_MS, type LanKeys } from './private-keys.js';
import { emptyCounters, type LanCounters } from './counters.js';
import { LanPeers, type LanPeer } from './lan-peers.js';
import { encodeTxt, instanceLabel, signAnnouncement, type Announcement } from './record.js';

/** RFC 6762 §6: do not multicast the same record more often than once per second. */
const MIN_RESPONSE_GAP_MS = 1_000;
const MAX_PENDING_REPLIES = 256;
/** A query this soon after our multicast crossed it in flight (see #onQuery). */
const CROSSED_MS = 250;
/** Queries for refreshing are sent at most this often. */
const MIN_QUERY_GAP_MS = 250;

/** A query heard from one source, until we answer it (or learn we need not). */
interface Reply {
  timer: NodeJS.Timeout;
  /** It listed our record with more than half its TTL left. */
  suppressed: boolean;
  /** Instance labels it listed as known (across its continuation packets). */
  known: Set<string>;
}

interface Endpoint {
  iface: LanInterface;
  mdns: MdnsSocket;
  record?: { announcement: Announcement; txt: string[]; instance: string };
  replies: Map<string, Reply>;
  lastSentAt: number;
  deferred?: NodeJS.Timeout;
}

/** Announces this node on the LAN and reports the meshwire nodes it finds there. */
export class LanDiscovery {
  readonly #o: ResolvedLanOptions;
  readonly #id: string;
  readonly #keys: LanKeys | undefined;
  readonly #endpoints: Endpoint[] = [];
  readonly #gate: CandidateGate<LanCandidate>;
  /** Identifies our own queries when they loop back (several instances may share an address). */
  readonly #queryId = randomInt(1, 65536);
  readonly #counters: LanCounters = emptyCounters();
  readonly #peers: LanPeers;
  readonly #timers = new Set<NodeJS.Timeout>();
  #queryInterval: number;
  #queryTimer: NodeJS.Timeout | undefined;
  /** When the backoff's next query is due (a refresh point may come first). */
  #queryDueAt = 0;
  /** When the backoff last doubled (see `#countQuery`). */
  #queryCountedAt = -Infinity;
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
    this.#peers = new LanPeers({
      mode: this.#o.mode,
      ownId: this.#id,
      signer: this.#o.signer,
      keys: this.#keys,
      ttlMs: this.#o.ttlMs,
      maxPeers: this.#o.maxPeers,
      clockSkewMs: this.#o.clockSkewMs,
      counters: this.#counters,
      offer: (candidate) => this.#gate.offer(candidate.address, candidate),
      gone: (id, reason) => {
        this.#gate.forget((c) => c.id === id);
        this.#o.onGone?.(id, reason);
      },
    });
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
    return this.#peers.list();
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
      const interfaces = selectInterfaces(this.#o.interfaces);
      if (interfaces.length === 0)
        this.#o.onWarning?.(
          new MeshwireError(
            'ERR_DISCOVERY_SOCKET',
            'no up, multicast-capable IPv4 interface: LAN discovery is idle',
          ),
        );
      for (const iface of interfaces) this.#endpoints.push(await this.#open(iface));
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
    const mdns = await openMdnsSocket(iface, this.#o.mdnsPort, (bytes) => {
      this.#counters.bytesReceived += bytes;
      this.#counters.packetsReceived++;
    });
    const ep: Endpoint = { iface, mdns, replies: new Map(), lastSentAt: 0 };
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
      ep.mdns.send(packet, (err?: Error | null) => {
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

  #query(): void {
    const known = this.#peers.knownAnswers(Date.now());
    for (const ep of this.#endpoints) {
      for (const packet of buildQueries(known)) {
        packet.id = this.#queryId;
        this.#counters.queries++;
        void this.#send(ep, packet);
      }
    }
    this.#countQuery(Date.now());
  }

  /**
   * One query of the backoff happened, ours or another node's (duplicate question suppression):
   * the next waits the current interval, and the interval doubles up to its cap. At most one
   * doubling per half interval, however many nodes ask at once.
   */
  #countQuery(now: number): void {
    const wait = this.#queryInterval;
    if (now - this.#queryCountedAt >= wait / 2) {
      this.#queryInterval = Math.min(wait * 2, this.#o.maxQueryIntervalMs);
      this.#queryCountedAt = now;
    }
    this.#scheduleQuery(wait);
  }

  /** Next query after `wait` ms plus up to 20 % jitter, so equal nodes do not query in step. */
  #scheduleQuery(wait: number): void {
    const now = Date.now();
    this.#queryDueAt = now + wait * (1 + Math.random() * 0.2);
    this.#armQueryTimer(now);
  }

  /**
   * Fires at the backoff's due time, or earlier when a record is due for refreshing, plus up to
   * 5 % of the TTL at random: nodes that refreshed together should not all ask at once, and the
   * first asker's answers (within 120 ms) should reach the others before their turn. (RFC 6762
   * suggests 2 %; wider costs nothing and suppresses more duplicates.)
   */
  #armQueryTimer(now: number): void {
    if (this.#queryTimer) {
      clearTimeout(this.#queryTimer);
      this.#timers.delete(this.#queryTimer);
    }
    const refresh = this.#peers.nextRefreshIn(now);
    let delay = this.#queryDueAt - now;
    if (refresh !== undefined)
      delay = Math.min(delay, Math.max(MIN_QUERY_GAP_MS, refresh + Math.random() * 0.05 * this.#o.ttlMs));
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        this.#queryTimer = undefined;
        if (this.#state !== 'started') return;
        const at = Date.now();
        // Woken for a refresh that someone else's query already brought: nothing to ask.
        if (at < this.#queryDueAt && !this.#peers.needsRefresh(at)) this.#armQueryTimer(at);
        else this.#query();
      },
      Math.max(0, delay),
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
      // Asked right after we multicast our record by a node that was already listening (it
      // lists known answers): the query crossed our record in flight and the asker has it by
      // now. If not, it asks again (refresh points, backoff) and then we answer. A node that
      // has just started lists nothing and is always answered.
      const crossed = Date.now() - ep.lastSentAt < CROSSED_MS && (packet.answers?.length ?? 0) > 0;
      const reply: Reply = {
        suppressed: false,
        known: new Set(),
        timer: setTimeout(
          () => {
            ep.replies.delete(source);
            if (!reply.suppressed && !crossed && this.#state === 'started') this.#replyOn(ep);
          },
          truncated ? randomInt(400, 501) : randomInt(20, 121),
        ),
      };
      ep.replies.set(source, reply);
      incoming = reply;
    }
    incoming.suppressed ||= suppress;
    for (const label of knownAnswerLabels(packet)) if (incoming.known.size < 256) incoming.known.add(label);
    if (((packet.flags ?? 0) & FLAG_TRUNCATED) === 0) this.#maybeSkipOwnQuery(incoming.known, rinfo.address);
  }

  /**
   * RFC 6762 §7.3, duplicate question suppression: another node just asked our question, and
   * every answer it already knows we know too, so each answer our own query would draw is
   * coming anyway (answers are multicast). Count its query as ours, backoff included: the next
   * one waits a full interval, and the interval doubles as if we had asked. This keeps a quiet
   * LAN at about one query per interval, not one per node.
   *
   * Measured (`npm run bench -- discovery`, 50 nodes, real speed, 4 minutes of rest after 2 of
   * warm-up): when a skip kept the interval where it was, each node's backoff grew only with
   * the queries it sent itself, one turn in 50, so the LAN went on asking every few seconds for
   * many minutes (15 queries a minute, 112 KB received per node per minute at rest).
   */
  #maybeSkipOwnQuery(theirs: Set<string>, from: string): void {
    if (!this.#queryTimer) return;
    const now = Date.now();
    // Nobody answers a query with their own record: if we do not know the asker at all (its
    // start announcements did not reach us), only our own query brings its record. A known
    // asker's record that is getting old is asked for at its refresh point (`#armQueryTimer`).
    if (!this.#peers.knownAt(from)) return;
    const ours = new Set(this.#peers.knownAnswers(now).map((k) => k.instance));
    // They list us too, which we never list: our own records are not answers we need.
    for (const ep of this.#endpoints) if (ep.record) ours.add(ep.record.instance.toLowerCase());
    for (const label of theirs) if (!ours.has(label)) return;
    this.#countQuery(now);
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
      const ttlMs = Math.min(found.ttl * 1000, this.#o.ttlMs * 30);
      this.#peers.receive(found.txt, found.name, ttlMs, isLoopbackHost(rinfo.address), now);
    }
  }

  #sweepLater(): void {
    this.#after(Math.min(1_000, Math.max(100, this.#o.ttlMs / 4)), () => {
      this.#peers.sweep(Date.now());
      this.#sweepLater();
    });
  }
}
