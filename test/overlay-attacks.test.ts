/**
 * Attacks on the overlay over real sockets (secure mode, `overlay: true`, 8 nodes with
 * `maxPeers: 3`, so most broadcasts are relayed): a relay that alters the broadcasts it relays
 * and forges one with another node's origin, and (below) a node that floods far beyond the
 * per-origin rate limit. The malicious node misbehaves through the internal test hook
 * (`setOverlayTestHook`), not through any public API.
 */
import assert from 'node:assert/strict';
import { sign as edSign } from 'node:crypto';
import { describe, it } from 'node:test';
import type { P2PNode } from '../src/node.js';
import type { OverlayReportMessage } from '../src/messages.js';
import { signedBytes, type GossipMessage, type OverlayMessage } from '../src/overlay/index.js';
import { rawEd25519PublicKey } from '../src/secure/identity.js';
import { waitUntil } from './helpers/nodes.js';
import { describeViews, overlayConnected, recordChats, startOverlayNet } from './helpers/overlay-net.js';
import { pollUntil } from './helpers/wait.js';
import { ed25519Pair } from './helpers/keys.js';

const COUNT = 8;
const MAX_PEERS = 3;
const MAL = 5;
const text = new TextDecoder();
const bytes = new TextEncoder();

/** Bad-signature reports each node raised (as the application sees them). */
function recordBadSignatures(nodes: P2PNode[]): Map<P2PNode, OverlayReportMessage[]> {
  const log = new Map<P2PNode, OverlayReportMessage[]>();
  for (const node of nodes) {
    const list: OverlayReportMessage[] = [];
    log.set(node, list);
    node.on('overlay-report', (m) => {
      if (m.report.kind === 'bad-signature') list.push(m);
    });
  }
  return log;
}

describe('a tampering relay', { timeout: 120_000 }, () => {
  it('forged and altered broadcasts are never delivered, are reported, the genuine ones reach all, the relay is cut off', async (t) => {
    let tamper = false;
    let altered = 0;
    /** The last genuine broadcast the relay was about to pass on (before it altered it). */
    let lastRelayed: GossipMessage | undefined;
    let rounds = 0;
    let inject: ((to: string, m: OverlayMessage) => void) | undefined;
    let malId = '';
    const nodes = await startOverlayNet(t, {
      count: COUNT,
      maxPeers: MAX_PEERS,
      seed: 21,
      // Re-join probes every second: with maxPeers 3, eight nodes can settle into two full
      // cliques. The core merges them by itself (outsider probes, README "Small groups that are
      // each done"), but only after its sketch has matured, ~20 s with 10 s shuffles: longer
      // than this test waits for one overlay.
      hook: (i) =>
        i === MAL
          ? {
              core: { rejoinIntervalMs: 1_000 },
              outgoing: (_to, m) => {
                if (!tamper || m.type !== 'gossip' || m.sender === malId) return m;
                altered++;
                lastRelayed = m;
                return { ...m, payload: bytes.encode(`TAMPERED ${text.decode(m.payload)}`) };
              },
              attach: (api) => (inject = api.send),
            }
          : { core: { rejoinIntervalMs: 1_000 } },
    });
    const mal = nodes[MAL]!;
    malId = mal.id;
    const honest = nodes.filter((n) => n !== mal);
    const chats = recordChats(nodes);
    const bad = recordBadSignatures(nodes);
    const delivered = (n: P2PNode, key: string): number => chats.get(n)!.filter((e) => e === key).length;
    const broadcastAll = async (label: string): Promise<string[]> => {
      const keys: string[] = [];
      await pollUntil(() => overlayConnected(honest), 'one overlay of the honest nodes', {
        timeoutMs: 15_000,
        describe: () => describeViews(nodes),
      });
      for (const [i, sender] of honest.entries()) {
        await pollUntil(() => sender.overlayStats()!.active.length > 0, `${sender.name} has a neighbour`, {
          timeoutMs: 15_000,
        });
        await sender.broadcastMessage(`${label} from ${i}`);
        keys.push(`${sender.id}|${label} from ${i}`);
      }
      await waitUntil(
        honest,
        () => keys.every((k) => honest.every((n) => n.id === k.split('|')[0] || delivered(n, k) === 1)),
        `every genuine "${label}" broadcast at every honest node`,
        20_000,
        () => {
          const missing = honest.flatMap((n) =>
            keys
              .filter((k) => n.id !== k.split('|')[0] && delivered(n, k) !== 1)
              .map((k) => `${n.name} lacks "${k.split('|')[1]}" (${delivered(n, k)} copies)`),
          );
          return `${missing.join('; ')}; views: ${describeViews(nodes)}`;
        },
      );
      return keys;
    };

    const total = (): number => honest.reduce((sum, n) => sum + bad.get(n)!.length, 0);
    // Two neighbours at least: a node with one link only ever receives, and never relays.
    // The honest nodes are linked without the relay too, or its tampering would cut them apart:
    // a message sent across a split is not recovered (README, partitions).
    const relayHasNeighbours = (): Promise<void> =>
      pollUntil(
        () => mal.overlayStats()!.active.length >= 2 && overlayConnected(honest),
        'the malicious relay has two neighbours and the honest nodes one overlay without it',
        { timeoutMs: 15_000, describe: () => describeViews(nodes) },
      );

    // 1. Tampering: the relay alters every payload it relays. Whether an altered copy reaches a
    // node before the genuine one depends on the trees (a duplicate is dropped unverified, and
    // harmlessly), so a few rounds run while the relay tampers; if none was caught, the relay
    // then sends its neighbours an altered copy of a broadcast it relayed, under the sender's
    // next sequence number, so the copy is new to them and must be verified: it is caught
    // every time, and the sender's real broadcast with that number must still reach everyone.
    tamper = true;
    while (total() === 0 && rounds < 4) {
      await relayHasNeighbours();
      await broadcastAll(`round ${rounds++}`);
    }
    tamper = false;
    assert.ok(altered > 0, `the relay altered payloads (${rounds} rounds)`);
    if (total() === 0) {
      const genuine = lastRelayed!;
      const linkedNow = honest.filter(
        (n) => mal.overlayStats()!.active.includes(n.id) && n.overlayStats()!.active.includes(mal.id),
      );
      // The round a payload belongs to is in its text, not in when the relay passed it on: a
      // GRAFT answered by the relay (a new neighbour catching up) carries an older round's message.
      const round = Number(/^round (\d+) from /.exec(text.decode(genuine.payload))![1]);
      const copy: GossipMessage = {
        ...genuine,
        // Every honest node broadcasts once per round: this is the sender's next number.
        seq: genuine.seq + rounds - round,
        payload: bytes.encode(`TAMPERED ${text.decode(genuine.payload)}`),
      };
      const fresh = linkedNow.filter((n) => n.id !== genuine.sender);
      assert.ok(fresh.length > 0, 'the relay has a neighbour besides the sender');
      for (const n of fresh) inject!(n.id, copy);
      await waitUntil(
        fresh,
        () => fresh.every((n) => bad.get(n)!.length > 0),
        'the altered copy caught',
        10_000,
      );
      await broadcastAll(`round ${rounds++}`);
    }
    const reporters = honest.filter((n) => bad.get(n)!.length > 0);
    assert.ok(reporters.length > 0, `an altered copy was caught (${rounds} rounds, ${altered} altered)`);
    const blames = (n: P2PNode): void => {
      for (const m of bad.get(n)!) {
        assert.equal(m.report.kind === 'bad-signature' && m.report.from, mal.id, 'the relay is named');
        assert.equal(m.peer?.id, mal.id);
      }
      assert.equal(
        n.overlayStats()!.reports['bad-signature'],
        bad.get(n)!.length,
        'counted in overlayStats()',
      );
    };
    const cutOff = (list: P2PNode[], what: string): Promise<void> =>
      pollUntil(
        () =>
          list.every(
            (n) =>
              !n.getPeerInfo().peers.some((p) => p.id === mal.id) &&
              n.overlayStats()!.blocked.includes(mal.id),
          ),
        what,
        { timeoutMs: 10_000 },
      );
    for (const n of reporters) blames(n);
    await cutOff(reporters, 'every node that caught the relay disconnected and blocked it');

    // 2. Forgery: the relay sends each of its (new) neighbours a broadcast "from" an honest node,
    // signed with a key of its own (it cannot sign with the victim's).
    // Targets are the relay's neighbours on both sides: a link the relay still lists while the
    // other end is closing it would never carry the forgery.
    const linked = (n: P2PNode): boolean =>
      mal.overlayStats()!.active.includes(n.id) && n.overlayStats()!.active.includes(mal.id);
    await pollUntil(() => honest.some(linked), 'the malicious relay has neighbours on both sides', {
      timeoutMs: 15_000,
      describe: () => describeViews(nodes),
    });
    const victim = honest.find((n) => !mal.overlayStats()!.active.includes(n.id))!;
    const targets = honest.filter(linked);
    const reportsBefore = new Map(honest.map((n) => [n, bad.get(n)!.length]));
    const { privateKey, publicKey } = ed25519Pair();
    const fields = {
      sender: victim.id,
      epoch: Date.now() + 3_600_000,
      seq: 1,
      kind: 0,
      payload: bytes.encode('FORGED'),
    };
    const forged: GossipMessage = {
      type: 'gossip',
      ...fields,
      hops: 1,
      signature: Buffer.concat([
        rawEd25519PublicKey(publicKey),
        edSign(null, signedBytes(fields), privateKey),
      ]),
    };
    for (const n of targets) inject!(n.id, forged);
    await waitUntil(
      targets,
      () => targets.every((n) => bad.get(n)!.length === reportsBefore.get(n)! + 1),
      'every neighbour that got the forgery reported it',
      10_000,
    );
    for (const n of targets) {
      const last = bad.get(n)!.at(-1)!.report;
      assert.ok(last.kind === 'bad-signature' && last.id.sender === victim.id && last.from === mal.id);
      blames(n);
    }
    await cutOff(targets, 'every node that got the forgery disconnected and blocked the relay');
    // The forgery (it claimed a newer epoch of the victim) does not shadow the victim's real
    // broadcasts, nor anyone else's.
    await broadcastAll('after the forgery');

    // Nothing altered or forged was ever delivered; every genuine broadcast exactly once.
    for (const n of honest) {
      const log = chats.get(n)!;
      assert.ok(
        !log.some((e) => /TAMPERED|FORGED/.test(e)),
        `${n.name} delivered nothing altered: ${log.filter((e) => /TAMPERED|FORGED/.test(e)).join(', ')}`,
      );
      assert.equal(new Set(log).size, log.length, `${n.name}: no duplicate`);
    }
  });
});

describe('a flooding node', { timeout: 120_000 }, () => {
  it('is cut at the first hop; honest broadcasts still reach everyone once, quickly; the drops are reported', async (t) => {
    // Small limits keep the test light; the defaults (200/s, burst 1000) behave the same, scaled.
    const originRate = { perSecond: 10, burst: 20 };
    const FLOODER = 2;
    const FLOOD = 1000;
    const FLOOD_BATCH = 10;
    const FLOOD_PACE_MS = 20;
    let floodId = '';
    /** Distinct flood messages each node relayed (seen in what it sends). */
    const relayed = Array.from({ length: COUNT }, () => new Set<number>());
    const direct = new Set<string>();
    const nodes = await startOverlayNet(t, {
      count: COUNT,
      maxPeers: MAX_PEERS,
      seed: 5,
      hook: (i) =>
        i === FLOODER
          ? // The flooder ignores its own limit (the public API would throw ERR_RATE_LIMITED).
            {
              core: { originRate: { perSecond: 1e6, burst: 1e6 } },
              outgoing: (to, m) => {
                if (m.type === 'gossip') direct.add(to);
                return m;
              },
            }
          : {
              core: { originRate },
              outgoing: (_to, m) => {
                if (m.type === 'gossip' && m.sender === floodId) relayed[i]!.add(m.seq);
                return m;
              },
            },
    });
    const flooder = nodes[FLOODER]!;
    floodId = flooder.id;
    const honest = nodes.filter((n) => n !== flooder);
    const chats = recordChats(nodes);
    const limited = new Map(honest.map((n) => [n, 0]));
    const gaps = new Map(honest.map((n) => [n, 0]));
    for (const n of honest) {
      n.on('overlay-report', (m) => {
        const r = m.report;
        if (r.kind === 'rate-limited' && r.scope === 'origin' && r.id.sender === floodId) {
          limited.set(n, limited.get(n)! + 1);
        }
        if ((r.kind === 'gap' && r.sender === floodId) || (r.kind === 'missed' && r.id.sender === floodId)) {
          gaps.set(n, gaps.get(n)! + 1);
        }
      });
    }
    // The first hop: every node the flooder sent a payload to (its neighbours may change meanwhile).
    const isFirstHop = (n: P2PNode): boolean => direct.has(n.id);

    const started = Date.now();
    let sentTo = 0;
    // Every honest node broadcasts once in the middle of the flood: each must reach every other
    // node exactly once, with a bounded latency.
    const latencies: number[] = [];
    const honestBroadcasts = (): Promise<unknown> =>
      Promise.all(
        honest.map(async (sender, i) => {
          const key = `${sender.id}|honest ${i}`;
          const at = Date.now();
          await sender.broadcastMessage(`honest ${i}`);
          await waitUntil(
            nodes,
            () => nodes.every((n) => n === sender || chats.get(n)!.includes(key)),
            `honest ${i} everywhere`,
            10_000,
          );
          latencies.push(Date.now() - at);
        }),
      );
    let honestDone: Promise<unknown> | undefined;
    // The flood is paced (10 every 20 ms, 50 × the limit here): all the nodes share this one process,
    // and an unpaced flood would measure this process's backlog rather than the overlay.
    for (let k = 0; k < FLOOD; k += FLOOD_BATCH) {
      for (let j = 0; j < FLOOD_BATCH; j++)
        sentTo += (await flooder.broadcastMessage(`spam ${k + j}`)).sent.length;
      if (k === FLOOD / 2) honestDone = honestBroadcasts();
      await new Promise((resolve) => setTimeout(resolve, FLOOD_PACE_MS));
    }
    assert.ok(sentTo >= FLOOD, 'the flood left the flooder');
    await honestDone;
    const elapsedS = (Date.now() - started) / 1000;
    for (const n of nodes) {
      const honestGot = chats.get(n)!.filter((e) => !e.startsWith(`${floodId}|`));
      assert.equal(new Set(honestGot).size, honestGot.length, `${n.name}: no duplicate`);
    }

    // The flood is cut where it enters: every node relays at most the origin's burst plus its
    // rate over the elapsed time (with a token of slack per second), far less than was sent.
    const allowance = originRate.burst + originRate.perSecond * (elapsedS + 1);
    for (const [i, set] of relayed.entries()) {
      if (i === FLOODER) continue;
      assert.ok(set.size <= allowance, `n${i} relayed ${set.size} flood messages (allowance ${allowance})`);
    }
    // The first hop delivers the flood but reports each message it would not relay.
    for (const n of honest.filter(isFirstHop)) {
      const got = chats.get(n)!.filter((e) => e.startsWith(`${floodId}|`)).length;
      assert.ok(
        limited.get(n)! >= got - allowance,
        `${n.name}: ${limited.get(n)} rate-limited reports for ${got}`,
      );
      assert.equal(n.overlayStats()!.reports['rate-limited'], limited.get(n));
    }
    // Beyond the first hop far less arrives, and what was skipped is reported (gap / missed).
    for (const n of honest.filter((x) => !isFirstHop(x))) {
      const got = chats.get(n)!.filter((e) => e.startsWith(`${floodId}|`)).length;
      assert.ok(got <= allowance, `${n.name} got ${got} flood messages`);
    }
    await pollUntil(
      () => honest.filter((n) => !isFirstHop(n)).every((n) => gaps.get(n)! > 0),
      'every node behind the first hop reported the skipped flood messages',
      { timeoutMs: 15_000 },
    );
    latencies.sort((a, b) => a - b);
    const relayedMax = Math.max(...relayed.map((s) => s.size));
    t.diagnostic(
      `flood ${FLOOD} in ${elapsedS.toFixed(1)} s; relayed per node max ${relayedMax}; ` +
        `honest latency p50 ${latencies[Math.floor(latencies.length / 2)]} ms max ${latencies.at(-1)} ms; ` +
        `first hop ${honest.filter(isFirstHop).length} nodes, rate-limited reports ${honest
          .filter(isFirstHop)
          .map((n) => limited.get(n))
          .join('/')}`,
    );
    assert.ok(latencies.at(-1)! <= 5_000, 'honest broadcasts keep a bounded latency');
  });
});
