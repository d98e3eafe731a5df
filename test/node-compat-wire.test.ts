/**
 * A peer written from PROTOCOL-compat.md alone, byte for byte, against a meshwire compat node:
 * as a dialer and as a listener. Maintenance is slow here so no PING interleaves with the
 * exchanges being checked (the heartbeat has its own test).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MeshMessage } from '../src/messages.js';
import {
  addressOf,
  RawCompatListener,
  RawCompatPeer,
  record,
  startNode,
  waitFor,
  waitForPeerCount,
  waitUntil,
} from './helpers/nodes.js';

const QUIET = { mode: 'compat', maintenanceIntervalMs: 60_000, peerTimeoutMs: 60_000 } as const;

describe('raw compat peer as a dialer', () => {
  test('handshake, PEERS exchange, PING, chat, BYTES, both directions', { timeout: 10_000 }, async (t) => {
    const x = await startNode(t, { ...QUIET, name: 'xnode' });
    const y = await startNode(t, { ...QUIET, name: 'ynode' });
    await y.connectToPeer(addressOf(x));
    await waitForPeerCount([x, y], 1);
    const own = await RawCompatListener.listen(t); // where the raw peer claims to listen
    const xMessages = record(x);

    const raw = await RawCompatPeer.dial(t, x.port);
    const connected = waitFor(x, 'peer-connected', (m) => m.peer.id === raw.id);
    // Step 1+2: `<ID>:<NAME>\n` then `LISTEN:<host>:<port>\n`.
    raw.send(`${raw.id}:rawpeer\nLISTEN:127.0.0.1:${own.port}\n`);
    // Step 3: the listener's own `<ID>:<NAME>\n`.
    assert.equal(await raw.readLine(), `${x.id}:xnode`);
    // Step 4: the listener at once sends its (non-empty) PEERS list: its other peer, Y.
    assert.equal(await raw.readLine(), `PEERS:${addressOf(y)}`);
    const c = await connected;
    assert.deepEqual(c.peer, { id: raw.id, name: 'rawpeer', address: `127.0.0.1:${own.port}` });
    assert.equal(c.direction, 'inbound');
    assert.equal(c.peerCount, 2);

    // The dialer's side of step 4: PEERS (ours, non-empty) then REQUEST_PEERS.
    raw.send('PEERS:\n');
    raw.send('REQUEST_PEERS\n');
    assert.equal(await raw.readLine(), `PEERS:${addressOf(y)}`, 'the node lists its other peers, not us');

    raw.send('PING\n');
    assert.equal(await raw.readLine(), 'PONG');

    const chat = waitFor(x, 'chat', (m) => m.from.id === raw.id);
    raw.send('hello mesh\n');
    const chatMsg = await chat;
    assert.equal(chatMsg.text, 'hello mesh');
    assert.deepEqual(chatMsg.from, { id: raw.id, name: 'rawpeer', address: `127.0.0.1:${own.port}` });

    const trimmed = waitFor(x, 'chat', (m) => m.from.id === raw.id);
    raw.send('  padded line \r\n');
    assert.equal((await trimmed).text, 'padded line', 'receivers trim surrounding white space');

    const bytes = waitFor(x, 'bytes', (m) => m.from.id === raw.id);
    raw.send('BYTES:5\nhello');
    assert.deepEqual(Buffer.from((await bytes).data), Buffer.from('hello'));

    const binary = Buffer.from([0, 10, 13, 255, 0x42, 0x59, 10]);
    const bytes2 = waitFor(x, 'bytes', (m) => m.from.id === raw.id);
    const empty = waitFor(x, 'bytes', (m) => m.from.id === raw.id && m.data.length === 0);
    raw.send(Buffer.concat([Buffer.from(`BYTES:${binary.length}\n`), binary, Buffer.from('BYTES:0\n')]));
    assert.deepEqual(Buffer.from((await bytes2).data), binary);
    await empty;

    const yChat = waitFor(y, 'chat', (m) => m.text === 'hi');
    const report = await x.broadcastMessage('hi');
    assert.deepEqual(new Set(report.sent), new Set([raw.id, y.id]));
    assert.equal(await raw.readLine(), 'hi');
    await yChat;

    const payload = Buffer.from([1, 2, 3, 10, 0, 255]);
    await x.broadcastBytes(payload);
    assert.equal(await raw.readLine(), `BYTES:${payload.length}`);
    assert.deepEqual(await raw.readExact(payload.length), payload);
    await x.sendBytesToPeer(raw.id, Buffer.from('direct'));
    assert.equal(await raw.readLine(), 'BYTES:6');
    assert.deepEqual(await raw.readExact(6), Buffer.from('direct'));
    await x.broadcastBytes(new Uint8Array(0));
    assert.equal(await raw.readLine(), 'BYTES:0');

    assert.equal(raw.pending, 0, 'nothing unexpected on the wire');
    assert.ok(!xMessages.some((m) => m.type === 'error'), 'no error reported');
    const info = x.getPeerInfo().peers.find((p) => p.id === raw.id);
    assert.equal(info?.address, `127.0.0.1:${own.port}`);
  });

  test(
    'PEERS from a raw peer are learnt and dialled; the dialled peer sees the dialer handshake',
    { timeout: 10_000 },
    async (t) => {
      const x = await startNode(t, { ...QUIET, name: 'xnode' });
      const target = await RawCompatListener.listen(t);
      const raw = await RawCompatPeer.join(t, x, 'gossip', '127.0.0.1:1');
      const discovered = waitFor(x, 'peers-discovered');
      raw.send(`PEERS:${target.address},,garbage,[::1]:9,127.0.0.1:${x.port}\n`);
      const d = await discovered;
      assert.equal(d.from?.id, raw.id);
      assert.equal(d.newCount, 1, 'empty, invalid, [::1] and own entries are ignored');
      assert.deepEqual(d.addresses, [target.address]);
      // X dials the new address (auto-connect) as a compat dialer: at once if it ranks first by
      // port, else after the discovery grace period (2 s).
      const dialled = await target.accept(6_000);
      assert.equal(await dialled.readLine(), `${x.id}:xnode`);
      assert.equal(await dialled.readLine(), `LISTEN:127.0.0.1:${x.port}`);
      dialled.send(`${dialled.id}:target\n`);
      // Dialer's step 4: its PEERS (X knows the raw peer, listening on 127.0.0.1:1) then REQUEST_PEERS.
      assert.equal(await dialled.readLine(), 'PEERS:127.0.0.1:1');
      assert.equal(await dialled.readLine(), 'REQUEST_PEERS');
      await waitForPeerCount([x], 2);
    },
  );

  test('a dialer that sends no LISTEN line gets its answer at once', { timeout: 10_000 }, async (t) => {
    // The default 10 s connection timeout: a stall would show as a read timeout below.
    const x = await startNode(t, { ...QUIET, connectionTimeoutMs: 10_000 });
    const raw = await RawCompatPeer.dial(t, x.port);
    const connected = waitFor(x, 'peer-connected', (m) => m.peer.id === raw.id, 1_000);
    const started = Date.now();
    raw.send(`${raw.id}:nolisten\n`);
    assert.equal(await raw.readLine(1_000), `${x.id}:${x.id}`, 'hello answered, NAME defaults to the ID');
    assert.ok(Date.now() - started < 1_000);
    const c = await connected;
    // Known by the socket's remote address until it says where it listens.
    assert.equal(c.peer.address, `127.0.0.1:${raw.socket.localPort}`);
    // The LISTEN line may still come later; then the node knows the listen address.
    // (Frames are handled in order: once the chat after it is reported, the LISTEN was handled.)
    const after = waitFor(x, 'chat', (m) => m.text === 'after listen');
    raw.send('LISTEN:127.0.0.1:4567\nafter listen\n');
    assert.equal((await after).from.address, '127.0.0.1:4567');
    assert.equal(x.getPeerInfo().peers[0]?.address, '127.0.0.1:4567');
  });

  test(
    'a hello, LISTEN and chat in one segment: nothing is lost, peer-connected comes first',
    { timeout: 10_000 },
    async (t) => {
      const x = await startNode(t, QUIET);
      const messages = record(x);
      const raw = await RawCompatPeer.dial(t, x.port);
      const chat = waitFor(x, 'chat', (m) => m.text === 'first words');
      const bytes = waitFor(x, 'bytes');
      raw.send(`${raw.id}:eager\nLISTEN:127.0.0.1:7\nfirst words\nBYTES:2\nok`);
      await Promise.all([chat, bytes]);
      const types = messages.map((m) => m.type).filter((type) => type !== 'system-start');
      assert.deepEqual(types.slice(0, 3), ['peer-connected', 'chat', 'bytes']);
      assert.equal(
        (messages.find((m) => m.type === 'peer-connected') as MeshMessage & { type: 'peer-connected' }).peer
          .address,
        '127.0.0.1:7',
      );
    },
  );

  test('the heartbeat: the node sends PING on its maintenance tick', { timeout: 10_000 }, async (t) => {
    const x = await startNode(t, { mode: 'compat', maintenanceIntervalMs: 50, debug: true });
    const raw = await RawCompatPeer.join(t, x, 'beat', '127.0.0.1:1');
    const pong = waitFor(x, 'pong', (m) => m.peer.id === raw.id && m.direction === 'received');
    assert.equal(await raw.readLine(), 'PING');
    raw.send('PONG\n');
    await pong;
  });
});

describe('raw compat peer as a listener', () => {
  for (const host of ['127.0.0.1', '0.0.0.0']) {
    test(
      `a node bound to ${host} dials it: hello, LISTEN (never localhost), then PEERS/REQUEST_PEERS`,
      { timeout: 10_000 },
      async (t) => {
        const x = await startNode(t, { ...QUIET, host, name: 'dialer' });
        const y = await startNode(t, { ...QUIET, name: 'other' });
        await y.connectToPeer(addressOf(x));
        await waitForPeerCount([x, y], 1);
        const listener = await RawCompatListener.listen(t);
        const connecting = x.connectToPeer(listener.address);
        const raw = await listener.accept();
        assert.equal(await raw.readLine(), `${x.id}:dialer`);
        const listen = await raw.readLine();
        assert.equal(listen, `LISTEN:127.0.0.1:${x.port}`);
        assert.ok(!listen.includes('localhost'));
        raw.send(`${raw.id}:rawlistener\n`);
        const ref = await connecting;
        assert.deepEqual(ref, { id: raw.id, name: 'rawlistener', address: listener.address });
        // X shares its other peer, then asks for ours.
        assert.equal(await raw.readLine(), `PEERS:${addressOf(y)}`);
        assert.equal(await raw.readLine(), 'REQUEST_PEERS');
        raw.send(`PEERS:${addressOf(y)}\n`);
        raw.send('REQUEST_PEERS\n');
        assert.equal(await raw.readLine(), `PEERS:${addressOf(y)}`);
        const peer = x.getPeerInfo().peers.find((p) => p.id === raw.id);
        assert.equal(peer?.direction, 'outbound');
        assert.equal(peer?.address, listener.address);
      },
    );
  }

  test(
    'a listener that never answers fails the dial with ERR_HANDSHAKE_TIMEOUT',
    { timeout: 10_000 },
    async (t) => {
      const x = await startNode(t, { ...QUIET, connectionTimeoutMs: 200 });
      const listener = await RawCompatListener.listen(t);
      const failed = waitFor(x, 'connection-failed', (m) => m.address === listener.address);
      const connecting = x.connectToPeer(listener.address);
      const raw = await listener.accept();
      await assert.rejects(connecting, { code: 'ERR_HANDSHAKE_TIMEOUT' });
      assert.equal((await failed).error.code, 'ERR_HANDSHAKE_TIMEOUT');
      await raw.readLine(); // the hello it sent before giving up
      await raw.readLine(); // LISTEN
      await raw.expectClose();
    },
  );

  test(
    'DUPLICATE and MAX_PEERS answers reject connectToPeer with clear codes',
    { timeout: 10_000 },
    async (t) => {
      const x = await startNode(t, QUIET);
      const listener = await RawCompatListener.listen(t);
      for (const [answer, code] of [
        ['DUPLICATE', 'ERR_DUPLICATE_PEER'],
        ['MAX_PEERS', 'ERR_MAX_PEERS'],
      ] as const) {
        const connecting = x.connectToPeer(listener.address);
        const raw = await listener.accept();
        await raw.readLine();
        await raw.readLine();
        raw.send(`${answer}\n`);
        raw.socket.end();
        await assert.rejects(connecting, { code });
      }
      assert.equal(x.getPeerInfo().peers.length, 0);
    },
  );
});

describe('compat chat that would read as a control frame', () => {
  const refused = [
    'PING',
    'PONG',
    'REQUEST_PEERS',
    'PEERS:x',
    'PEERS:127.0.0.1:1',
    'BYTES:3',
    'LISTEN:127.0.0.1:1',
    'two\nlines',
    'carriage\rreturn',
    ' padded',
    '',
  ];

  test('is refused with ERR_CHAT_NOT_ENCODABLE and nothing is sent', { timeout: 10_000 }, async (t) => {
    const x = await startNode(t, QUIET);
    const raw = await RawCompatPeer.join(t, x, 'watcher', '127.0.0.1:1');
    for (const text of refused) {
      await assert.rejects(
        x.broadcastMessage(text),
        { code: 'ERR_CHAT_NOT_ENCODABLE' },
        JSON.stringify(text),
      );
      await assert.rejects(x.sendMessageToPeer(raw.id, text), { code: 'ERR_CHAT_NOT_ENCODABLE' });
    }
    await x.broadcastMessage('PINGS are fine');
    // The first line on the wire after all of that is the one legitimate chat.
    assert.equal(await raw.readLine(), 'PINGS are fine');
    assert.equal(raw.pending, 0);
    assert.equal(x.getPeerInfo().peers.length, 1, 'the peer is not dropped for it');
  });

  test('secure mode carries such text unchanged', { timeout: 10_000 }, async (t) => {
    const a = await startNode(t, { mode: 'secure' });
    const b = await startNode(t, { mode: 'secure' });
    await b.connectToPeer(addressOf(a));
    const texts = refused.filter((text) => text !== '');
    const got: string[] = [];
    a.on('chat', (m) => got.push(m.text));
    for (const text of texts) await b.broadcastMessage(text);
    await waitUntil([a], () => got.length === texts.length, 'every chat arrived');
    assert.deepEqual(got, texts);
  });
});
