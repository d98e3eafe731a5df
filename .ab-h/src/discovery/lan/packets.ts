/**
 * DNS-SD packets for meshwire's service (RFC 6763 over RFC 6762): the response a node sends to
 * announce itself, the query a browser sends (with known answers, so peers already known stay
 * quiet), and the bounded extraction of service instances from a received packet.
 */
import { isIP } from 'node:net';
import type { Answer, Packet, Question } from 'dns-packet';
import { SERVICE_TYPE } from './record.js';

/** At most this many resource records are looked at in one packet. */
export const MAX_RECORDS_PER_PACKET = 64;

/** At most this many service instances are taken from one packet. */
export const MAX_INSTANCES_PER_PACKET = 16;

/** Known answers per query packet: keeps a packet under a typical 1500-byte MTU. */
export const KNOWN_ANSWERS_PER_PACKET = 24;

/** DNS flag: truncated; in an mDNS query, "more known answers follow" (RFC 6762 §7.2). */
export const FLAG_TRUNCATED = 1 << 9;

/** What an announcing node puts on the wire for one interface. */
export interface ResponseParts {
  /** Instance label (first label of the instance name). */
  instance: string;
  /** TCP port. */
  port: number;
  /** TXT strings (see record.ts). */
  txt: string[];
  /** Addresses for A / AAAA records. */
  addresses: string[];
  /** Record TTL in seconds; 0 is a goodbye. */
  ttl: number;
}

/** Full name of an instance label. */
export function instanceName(label: string): string {
  return `${label}.${SERVICE_TYPE}`;
}

/** The announcement / answer: PTR, SRV, TXT and the host's A / AAAA records. */
export function buildResponse(parts: ResponseParts): Packet {
  const name = instanceName(parts.instance);
  const host = `${parts.instance}.local`;
  const answers: Answer[] = [
    { name: SERVICE_TYPE, type: 'PTR', ttl: parts.ttl, data: name },
    {
      name,
      type: 'SRV',
      ttl: parts.ttl,
      flush: true,
      data: { target: host, port: parts.port, priority: 0, weight: 0 },
    },
    { name, type: 'TXT', ttl: parts.ttl, flush: true, data: parts.txt.map((s) => Buffer.from(s, 'utf8')) },
  ];
  for (const address of parts.addresses) {
    const type = isIP(address) === 6 ? 'AAAA' : 'A';
    answers.push({ name: host, type, ttl: parts.ttl, flush: true, data: address });
  }
  return { type: 'response', id: 0, flags: 0, answers };
}

/** A known answer in a query: an instance this browser has, with the TTL it has left (s). */
export interface KnownAnswer {
  instance: string;
  ttl: number;
}

/**
 * Browse queries: one question for the service, known answers split over several packets when
 * there are many (all but the last marked truncated, so responders wait for the rest).
 */
export function buildQueries(known: readonly KnownAnswer[]): Packet[] {
  const question: Question = { name: SERVICE_TYPE, type: 'PTR' };
  const packets: Packet[] = [];
  for (let i = 0; i === 0 || i < known.length; i += KNOWN_ANSWERS_PER_PACKET) {
    const chunk = known.slice(i, i + KNOWN_ANSWERS_PER_PACKET);
    const last = i + KNOWN_ANSWERS_PER_PACKET >= known.length;
    packets.push({
      type: 'query',
      id: 0,
      flags: last ? 0 : FLAG_TRUNCATED,
      // RFC 6762 §7.2: continuation packets carry only known answers.
      questions: i === 0 ? [question] : [],
      answers: chunk.map((k) => ({
        name: SERVICE_TYPE,
        type: 'PTR',
        ttl: k.ttl,
        data: instanceName(k.instance),
      })),
    });
  }
  return packets;
}

/** True if a query asks for meshwire's service (or for `instance` by name). */
export function asksForUs(packet: Packet, ownInstance: string): boolean {
  const own = instanceName(ownInstance).toLowerCase();
  return (packet.questions ?? []).some((q) => {
    const name = q.name.toLowerCase();
    return (name === SERVICE_TYPE && (q.type === 'PTR' || (q.type as string) === 'ANY')) || name === own;
  });
}

/** The TTL (s) a query's known answers give for `instance`, if it lists it. */
export function knownAnswerTtl(packet: Packet, instance: string): number | undefined {
  const name = instanceName(instance).toLowerCase();
  const records = (packet.answers ?? []).slice(0, MAX_RECORDS_PER_PACKET);
  for (const r of records) {
    if (r.type === 'PTR' && r.name.toLowerCase() === SERVICE_TYPE && String(r.data).toLowerCase() === name)
      return r.ttl ?? 0;
  }
  return undefined;
}

/** Instance labels a query lists as known answers (bounded). */
export function knownAnswerLabels(packet: Packet): string[] {
  const suffix = `.${SERVICE_TYPE}`;
  const out: string[] = [];
  for (const r of (packet.answers ?? []).slice(0, MAX_RECORDS_PER_PACKET)) {
    if (r.type !== 'PTR' || r.name.toLowerCase() !== SERVICE_TYPE || typeof r.data !== 'string') continue;
    const name = r.data.toLowerCase();
    if (name.endsWith(suffix)) out.push(name.slice(0, -suffix.length));
  }
  return out;
}

/** One service instance found in a response. */
export interface FoundInstance {
  /** Full instance name. */
  name: string;
  /** TTL (s) of its PTR, or of its TXT when the PTR is absent. 0 = goodbye. */
  ttl: number;
  /** TXT strings. */
  txt: (string | Uint8Array)[];
}

/**
 * Service instances with their TXT records in a response, bounded: at most
 * {@link MAX_RECORDS_PER_PACKET} records read and {@link MAX_INSTANCES_PER_PACKET} returned.
 * Instances without a TXT record are skipped (meshwire needs the TXT).
 */
export function extractInstances(packet: Packet): { instances: FoundInstance[]; truncated: boolean } {
  const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])];
  const truncated = records.length > MAX_RECORDS_PER_PACKET;
  const bounded = records.slice(0, MAX_RECORDS_PER_PACKET);
  const ptrTtl = new Map<string, number>();
  const txts = new Map<string, { ttl: number; txt: (string | Uint8Array)[] }>();
  const suffix = `.${SERVICE_TYPE}`;
  for (const r of bounded) {
    if (r.type === 'PTR' && r.name.toLowerCase() === SERVICE_TYPE && typeof r.data === 'string') {
      ptrTtl.set(r.data.toLowerCase(), r.ttl ?? 0);
    } else if (r.type === 'TXT' && r.name.toLowerCase().endsWith(suffix)) {
      const data = r.data as unknown;
      const list = Array.isArray(data) ? (data as (string | Uint8Array)[]) : [data as string | Uint8Array];
      txts.set(r.name.toLowerCase(), { ttl: r.ttl ?? 0, txt: list });
    }
  }
  const instances: FoundInstance[] = [];
  for (const [name, { ttl, txt }] of txts) {
    if (instances.length >= MAX_INSTANCES_PER_PACKET) return { instances, truncated: true };
    instances.push({ name, ttl: ptrTtl.get(name) ?? ttl, txt });
  }
  return { instances, truncated };
}
