/**
 * The events one partition of the parallel simulator schedules for another, packed into one
 * batch per window: times in a Float64Array, the rest in an Int32Array, payload and signature
 * bytes in a Uint8Array (all three transferred, not copied). The hot messages (gossip, IHAVE,
 * GRAFT, PRUNE) are written by hand with peer IDs as node indices (simulator IDs are `n<i>`);
 * the rarer membership frames travel as structured-clone objects. On decode every ID becomes
 * the receiving worker's canonical string `ids[i]`, so the cores compare and store the same
 * strings as for a local frame, and a decoded message has the fields and values of the original.
 */
import { indexOfId } from './ids.js';
import type { PayloadIntern } from './payload-intern.js';
import type {
  GossipMessage,
  IHaveEntry,
  MessageId,
  OverlayMessage,
  PeerInfo,
} from '../../src/overlay/index.js';

/** One window's events for one partition. */
export interface CrossBatch {
  /** Event times. */
  t: Float64Array;
  /** Per event: kind, node, from, tag, then the tag's fields. */
  ints: Int32Array;
  bytes: Uint8Array;
  /** Messages of the clone path (tag `T_OBJECT`), in order. */
  objs: OverlayMessage[];
  /** Events in the batch. */
  count: number;
  /**
   * The buffers of the batch the receiver got from this sender last window, handed back for
   * reuse: no buffer is allocated per window, and none is freed by a thread other than the
   * one that allocated it (glibc keeps such memory in the allocating thread's arena: RSS grew).
   */
  spare: { t: Float64Array; ints: Int32Array; bytes: Uint8Array } | null;
}

const T_NONE = 0;
const T_GOSSIP = 1;
const T_IHAVE = 2;
const T_GRAFT = 3;
const T_PRUNE = 4;
const T_OBJECT = 5;
/** The same message object as an earlier event of the batch (a payload relayed to several nodes). */
const T_REF = 6;

const isInt32 = (x: number): boolean => (x | 0) === x;

/** Collects one window's events for one other partition. */
export class CrossWriter {
  #t: Float64Array;
  #ints: Int32Array;
  #bytes: Uint8Array;
  #objs: OverlayMessage[] = [];
  /** Payloads of this batch by object: one decoded object per sent object, as in one thread. */
  #seen = new Map<OverlayMessage, number>();
  #nt = 0;
  #ni = 0;
  #nb = 0;
  readonly #n: number;

  /** `n`: the number of nodes (indices at or above it are not simulator IDs). */
  constructor(n: number) {
    this.#n = n;
    this.#t = new Float64Array(256);
    this.#ints = new Int32Array(4096);
    this.#bytes = new Uint8Array(4096);
  }

  #idx(id: string): number {
    const i = indexOfId(id);
    return i < this.#n ? i : -1;
  }

  #room(ints: number, bytes: number): void {
    if (this.#nt === this.#t.length) {
      const t = new Float64Array(this.#t.length * 2);
      t.set(this.#t);
      this.#t = t;
    }
    if (this.#ni + ints > this.#ints.length) {
      const a = new Int32Array(Math.max(this.#ints.length * 2, this.#ni + ints));
      a.set(this.#ints.subarray(0, this.#ni));
      this.#ints = a;
    }
    if (this.#nb + bytes > this.#bytes.length) {
      const a = new Uint8Array(Math.max(this.#bytes.length * 2, this.#nb + bytes));
      a.set(this.#bytes.subarray(0, this.#nb));
      this.#bytes = a;
    }
  }

  /** Adds an event: `kind` at `time` for `node`, from `from`, with `m` (or null). */
  add(time: number, kind: number, node: number, from: number, m: OverlayMessage | null): void {
    let ref = -1;
    // Only payloads are shared between sends (a relay goes to every eager neighbour); IHAVE
    // lists are built per neighbour, so looking them up would only cost.
    if (m !== null && m.type === 'gossip') {
      const earlier = this.#seen.get(m);
      if (earlier === undefined) this.#seen.set(m, this.#nt);
      else ref = earlier;
    }
    const tag = m === null ? T_NONE : ref >= 0 ? T_REF : this.#tagOf(m);
    let ints = 4;
    let bytes = 0;
    switch (tag) {
      case T_GOSSIP: {
        const g = m as GossipMessage;
        ints += 7;
        bytes = g.payload.length + g.signature.length;
        break;
      }
      case T_IHAVE:
        ints += 1 + 4 * (m as { entries: IHaveEntry[] }).entries.length;
        break;
      case T_GRAFT:
        ints += 1 + 3 * (m as { ids: MessageId[] }).ids.length;
        break;
      case T_PRUNE:
      case T_OBJECT:
      case T_REF:
        ints += 1;
        break;
    }
    this.#room(ints, bytes);
    this.#t[this.#nt++] = time;
    const a = this.#ints;
    let p = this.#ni;
    a[p++] = kind;
    a[p++] = node;
    a[p++] = from;
    a[p++] = tag;
    switch (tag) {
      case T_GOSSIP: {
        const g = m as GossipMessage;
        a[p++] = this.#idx(g.sender);
        a[p++] = g.epoch;
        a[p++] = g.seq;
        a[p++] = g.kind;
        a[p++] = g.hops;
        a[p++] = g.payload.length;
        a[p++] = g.signature.length;
        this.#bytes.set(g.payload, this.#nb);
        this.#bytes.set(g.signature, this.#nb + g.payload.length);
        this.#nb += bytes;
        break;
      }
      case T_IHAVE: {
        const entries = (m as { entries: IHaveEntry[] }).entries;
        a[p++] = entries.length;
        for (const e of entries) {
          a[p++] = this.#idx(e.sender);
          a[p++] = e.epoch;
          a[p++] = e.seq;
          a[p++] = e.hops;
        }
        break;
      }
      case T_GRAFT: {
        const ids = (m as { ids: MessageId[] }).ids;
        a[p++] = ids.length;
        for (const e of ids) {
          a[p++] = this.#idx(e.sender);
          a[p++] = e.epoch;
          a[p++] = e.seq;
        }
        break;
      }
      case T_PRUNE:
        a[p++] = this.#idx((m as { sender: string }).sender);
        break;
      case T_OBJECT:
        a[p++] = this.#objs.length;
        this.#objs.push(m!);
        break;
      case T_REF:
        a[p++] = ref;
        break;
    }
    this.#ni = p;
  }

  /** The hand-written path when every ID is a simulator ID and every number fits 32 bits. */
  #tagOf(m: OverlayMessage): number {
    switch (m.type) {
      case 'gossip':
        return this.#idx(m.sender) >= 0 && isInt32(m.epoch) && isInt32(m.seq) && isInt32(m.hops)
          ? T_GOSSIP
          : T_OBJECT;
      case 'ihave':
        for (const e of m.entries) {
          if (this.#idx(e.sender) < 0 || !isInt32(e.epoch) || !isInt32(e.seq) || !isInt32(e.hops))
            return T_OBJECT;
        }
        return T_IHAVE;
      case 'graft':
        for (const e of m.ids)
          if (this.#idx(e.sender) < 0 || !isInt32(e.epoch) || !isInt32(e.seq)) return T_OBJECT;
        return T_GRAFT;
      case 'prune':
        return this.#idx(m.sender) >= 0 ? T_PRUNE : T_OBJECT;
      default:
        return T_OBJECT;
    }
  }

  #pool: CrossBatch['spare'] = null;

  /** Buffers handed back by the receiver (`CrossBatch.spare`), for the next `take`. */
  recycle(spare: CrossBatch['spare']): void {
    if (spare !== null) this.#pool = spare;
  }

  /** Events written since the last `take`. */
  get count(): number {
    return this.#nt;
  }

  /** The batch so far (its buffers are handed over: transfer them); the writer starts afresh. */
  take(): CrossBatch {
    const batch: CrossBatch = {
      t: this.#t.subarray(0, this.#nt),
      ints: this.#ints.subarray(0, this.#ni),
      bytes: this.#bytes.subarray(0, this.#nb),
      objs: this.#objs,
      count: this.#nt,
      spare: null,
    };
    // The next window writes into the buffers the receiver handed back, else into new ones of
    // about this window's size (few grows, little waste).
    const pool = this.#pool;
    this.#pool = null;
    this.#t = pool?.t ?? new Float64Array(Math.max(256, this.#nt + (this.#nt >> 2)));
    this.#ints = pool?.ints ?? new Int32Array(Math.max(4096, this.#ni + (this.#ni >> 2)));
    this.#bytes = pool?.bytes ?? new Uint8Array(Math.max(4096, this.#nb + (this.#nb >> 2)));
    this.#objs = [];
    this.#seen.clear();
    this.#nt = this.#ni = this.#nb = 0;
    return batch;
  }
}

/** The buffers of a batch, for `postMessage`'s transfer list. */
export function transferListOf(b: CrossBatch): ArrayBuffer[] {
  const list = [b.t.buffer as ArrayBuffer, b.ints.buffer as ArrayBuffer, b.bytes.buffer as ArrayBuffer];
  if (b.spare !== null)
    list.push(
      b.spare.t.buffer as ArrayBuffer,
      b.spare.ints.buffer as ArrayBuffer,
      b.spare.bytes.buffer as ArrayBuffer,
    );
  return list;
}

/** A received batch's whole buffers, to hand back to its sender as `spare`. */
export function spareOf(b: CrossBatch): NonNullable<CrossBatch['spare']> {
  return {
    t: new Float64Array(b.t.buffer as ArrayBuffer),
    ints: new Int32Array(b.ints.buffer as ArrayBuffer),
    bytes: new Uint8Array(b.bytes.buffer as ArrayBuffer),
  };
}

/** A string that is a simulator ID, as the canonical string; any other string unchanged. */
function canon(ids: readonly string[], s: string): string {
  const i = indexOfId(s);
  return i >= 0 && i < ids.length ? ids[i]! : s;
}

function canonPeer(ids: readonly string[], p: PeerInfo): PeerInfo {
  return { id: canon(ids, p.id), address: canon(ids, p.address) };
}

/** A cloned message with its IDs and addresses swapped for the canonical strings. */
function canonMessage(ids: readonly string[], m: OverlayMessage): OverlayMessage {
  switch (m.type) {
    case 'join':
    case 'neighbor':
      m.address = canon(ids, m.address);
      return m;
    case 'forward-join':
      m.peer = canonPeer(ids, m.peer);
      return m;
    case 'shuffle':
      m.origin = canonPeer(ids, m.origin);
      m.peers = m.peers.map((p) => canonPeer(ids, p));
      return m;
    case 'shuffle-reply':
      m.peers = m.peers.map((p) => canonPeer(ids, p));
      return m;
    case 'gossip':
      m.sender = canon(ids, m.sender);
      return m;
    case 'ihave':
      for (const e of m.entries) e.sender = canon(ids, e.sender);
      return m;
    case 'graft':
      for (const e of m.ids) e.sender = canon(ids, e.sender);
      return m;
    case 'prune':
      m.sender = canon(ids, m.sender);
      return m;
    default:
      return m;
  }
}

/** Calls `push(time, kind, node, from, message)` for every event of `b`, in the sender's order. */
export function readBatch(
  b: CrossBatch,
  ids: readonly string[],
  push: (time: number, kind: number, node: number, from: number, m: OverlayMessage | null) => void,
  intern?: PayloadIntern,
): void {
  const a = b.ints;
  const bytes = b.bytes;
  let p = 0;
  let q = 0;
  const decoded = new Array<OverlayMessage | null>(b.count).fill(null);
  for (let e = 0; e < b.count; e++) {
    const kind = a[p++]!;
    const node = a[p++]!;
    const from = a[p++]!;
    const tag = a[p++]!;
    let m: OverlayMessage | null = null;
    switch (tag) {
      case T_GOSSIP: {
        const sender = ids[a[p++]!]!;
        const epoch = a[p++]!;
        const seq = a[p++]!;
        const kindOf = a[p++]!;
        const hops = a[p++]!;
        const plen = a[p++]!;
        const slen = a[p++]!;
        // Field order as the cores build payload objects (`withHops`): one shape for all.
        const shared = intern?.get(a[p - 7]!, epoch, seq, bytes, q, plen, slen);
        m = {
          type: 'gossip',
          sender,
          epoch,
          seq,
          kind: kindOf,
          payload: shared?.payload ?? bytes.slice(q, q + plen),
          hops,
          signature: shared?.signature ?? bytes.slice(q + plen, q + plen + slen),
        };
        q += plen + slen;
        break;
      }
      case T_IHAVE: {
        const n = a[p++]!;
        const entries: IHaveEntry[] = new Array<IHaveEntry>(n);
        for (let x = 0; x < n; x++) {
          entries[x] = { sender: ids[a[p]!]!, epoch: a[p + 1]!, seq: a[p + 2]!, hops: a[p + 3]! };
          p += 4;
        }
        m = { type: 'ihave', entries };
        break;
      }
      case T_GRAFT: {
        const n = a[p++]!;
        const list: MessageId[] = new Array<MessageId>(n);
        for (let x = 0; x < n; x++) {
          list[x] = { sender: ids[a[p]!]!, epoch: a[p + 1]!, seq: a[p + 2]! };
          p += 3;
        }
        m = { type: 'graft', ids: list };
        break;
      }
      case T_PRUNE:
        m = { type: 'prune', sender: ids[a[p++]!]! };
        break;
      case T_OBJECT:
        m = canonMessage(ids, b.objs[a[p++]!]!);
        break;
      case T_REF:
        m = decoded[a[p++]!]!;
        break;
    }
    decoded[e] = m;
    push(b.t[e]!, kind, node, from, m);
  }
}
