import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { MeshwireError } from '../src/errors.js';
import {
  createIdentity,
  deriveNetworkKey,
  looksLikeTls,
  MESHWIRE_ALPN,
  NetworkKeyExchange,
  networkKeySession,
  tlsClientOptions,
  tlsServerOptions,
  verifyPeer,
  type Identity,
} from '../src/secure/index.js';
import { pollUntil } from './helpers/wait.js';
import { loadCpace } from '../src/secure/cpace.js';

// The network-key exchange needs its curve library loaded (the node does this in start()).
await loadCpace();

const TIMEOUT = 10_000;

let idA: Identity;
let idB: Identity;

before(
  async () => {
    [idA, idB] = await Promise.all([createIdentity(), createIdentity()]);
  },
  { timeout: TIMEOUT },
);

/** A TLS server on 127.0.0.1 that pairs each handshaken server-side socket with its client. */
class TestServer {
  readonly server: tls.Server;
  readonly sockets: tls.TLSSocket[] = [];
  readonly clientErrors: Error[] = [];
  private waiters = new Map<number, (s: tls.TLSSocket) => void>();

  constructor(options: tls.TlsOptions) {
    this.server = tls.createServer(options, (socket) => {
      socket.on('error', () => undefined);
      this.sockets.push(socket);
      const port = socket.remotePort ?? -1;
      this.waiters.get(port)?.(socket);
      this.waiters.delete(port);
    });
    this.server.on('tlsClientError', (err) => this.clientErrors.push(err));
  }

  async listen(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * The server side of `client`. In TLS 1.3 the client finishes its handshake before the server
   * (which still waits for the client's certificate and Finished), so match by port, not order.
   */
  accepted(client: tls.TLSSocket): Promise<tls.TLSSocket> {
    const port = client.localPort ?? -1;
    const ready = this.sockets.find((s) => s.remotePort === port);
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => this.waiters.set(port, resolve));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const clients: tls.TLSSocket[] = [];
const servers: net.Server[] = [];

/** Connects and resolves on 'secureConnect', rejects on 'error'. */
function connect(port: number, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ ...options, host: '127.0.0.1', port });
    clients.push(socket);
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

after(
  async () => {
    for (const c of clients) c.destroy();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  },
  { timeout: TIMEOUT },
);

function isCode(code: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof MeshwireError, `expected MeshwireError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

describe('secure TLS', () => {
  let server: TestServer;
  let port: number;

  before(
    async () => {
      server = new TestServer(tlsServerOptions(idA));
      port = await server.listen();
    },
    { timeout: TIMEOUT },
  );

  after(
    async () => {
      await server.close();
    },
    { timeout: TIMEOUT },
  );

  test('mutual authentication: each side derives the other ID', { timeout: TIMEOUT }, async () => {
    const client = await connect(port, tlsClientOptions(idB));
    const serverSide = await server.accepted(client);
    assert.equal(client.getProtocol(), 'TLSv1.3');
    assert.equal(client.alpnProtocol, MESHWIRE_ALPN);
    assert.equal(verifyPeer(client), idA.id);
    assert.equal(verifyPeer(client, idA.id), idA.id);
    assert.equal(verifyPeer(client, idA.id.toUpperCase()), idA.id);
    assert.equal(verifyPeer(serverSide), idB.id);
    assert.equal(verifyPeer(serverSide, idB.id), idB.id);

    // The connection carries data after verification.
    client.write('ping');
    const [chunk] = (await once(serverSide, 'data')) as [Buffer];
    assert.equal(chunk.toString(), 'ping');
  });

  test('an unexpected peer ID is reported as a mismatch naming both IDs', { timeout: TIMEOUT }, async () => {
    const client = await connect(port, tlsClientOptions(idB));
    assert.throws(() => verifyPeer(client, idB.id), isCode('ERR_PEER_ID_MISMATCH'));
    assert.throws(
      () => verifyPeer(client, idB.id),
      (err: Error) => err.message.includes(idA.id) && err.message.includes(idB.id),
    );
  });

  test('a client without a certificate is unauthorized on the server', { timeout: TIMEOUT }, async () => {
    const client = await connect(port, {
      minVersion: 'TLSv1.3',
      rejectUnauthorized: false,
      ALPNProtocols: [MESHWIRE_ALPN],
    });
    const serverSide = await server.accepted(client);
    assert.throws(() => verifyPeer(serverSide), isCode('ERR_UNAUTHORIZED'));
    assert.throws(() => verifyPeer(serverSide), /peer presented no certificate/);
    // The server itself is still fine from the client's point of view.
    assert.equal(verifyPeer(client), idA.id);
  });

  test('a client without the meshwire ALPN is refused', { timeout: TIMEOUT }, async () => {
    // Node's server aborts the handshake when ALPN lists do not overlap; without ALPN at all the
    // handshake completes and verifyPeer has to catch it.
    const { ALPNProtocols: _alpn, ...noAlpn } = tlsClientOptions(idB);
    const client = await connect(port, noAlpn);
    const serverSide = await server.accepted(client);
    assert.throws(() => verifyPeer(serverSide), isCode('ERR_TLS'));
    assert.throws(() => verifyPeer(client), isCode('ERR_TLS'));

    await assert.rejects(connect(port, { ...tlsClientOptions(idB), ALPNProtocols: ['meshwire/0'] }));
  });

  test('a TLS 1.2-only client cannot connect', { timeout: TIMEOUT }, async () => {
    const errorsBefore = server.clientErrors.length;
    // secureContext carries the TLS 1.3-only settings; drop it so the version override applies.
    const { secureContext: _ctx, ...options } = tlsClientOptions(idB);
    await assert.rejects(connect(port, { ...options, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }));
    // The server saw a failed handshake, not a connection.
    await pollUntil(() => server.clientErrors.length > errorsBefore, 'the server reports a client error', {
      timeoutMs: 2000,
    });
    assert.ok(server.clientErrors.length > errorsBefore);
  });
});

test(
  'server options work on an accepted raw socket after first-byte detection',
  { timeout: TIMEOUT },
  async () => {
    // How a server that accepts both plaintext and TLS would use these options: peek at the first
    // byte, push it back, and start TLS on the same socket.
    // Once wrapped, only the TLSSocket may be destroyed: on Node 20, destroying the raw socket and
    // then its TLSSocket can crash the process (SIGSEGV in ssl3_send_alert) when data arrives later.
    const serverSockets: net.Socket[] = [];
    const serverSide = new Promise<tls.TLSSocket>((resolve, reject) => {
      const server = net.createServer((raw) => {
        raw.once('data', (chunk: Buffer) => {
          raw.pause();
          if (!looksLikeTls(chunk[0] ?? 0)) {
            raw.destroy();
            return reject(new Error('first byte is not TLS'));
          }
          raw.unshift(chunk);
          const secure = new tls.TLSSocket(raw, { isServer: true, ...tlsServerOptions(idA) });
          serverSockets.push(secure);
          secure.once('secure', () => resolve(secure));
          secure.once('error', reject);
        });
      });
      servers.push(server);
      server.listen(0, '127.0.0.1', () => {
        connect((server.address() as AddressInfo).port, tlsClientOptions(idB)).then(
          (client) => assert.equal(verifyPeer(client, idA.id), idA.id),
          reject,
        );
      });
    });
    try {
      const secure = await serverSide;
      assert.equal(verifyPeer(secure, idB.id), idB.id);
    } finally {
      for (const s of serverSockets) s.destroy();
    }
  },
);

describe('network key exchange over a TLS session', () => {
  let server: TestServer;
  let port: number;
  const key = deriveNetworkKey('shared secret');
  const otherKey = deriveNetworkKey('other secret');

  before(
    async () => {
      server = new TestServer(tlsServerOptions(idA));
      port = await server.listen();
    },
    { timeout: TIMEOUT },
  );

  after(
    async () => {
      await server.close();
    },
    { timeout: TIMEOUT },
  );

  async function session(): Promise<{ client: tls.TLSSocket; serverSide: tls.TLSSocket }> {
    const client = await connect(port, tlsClientOptions(idB));
    const serverSide = await server.accepted(client);
    return { client, serverSide };
  }

  /** Both ends of a CPace run over one TLS session, with the IDs each side certifies. */
  function ends(
    sides: { client: tls.TLSSocket; serverSide: tls.TLSSocket },
    clientKey: Buffer,
    serverKey: Buffer,
  ): { a: NetworkKeyExchange; b: NetworkKeyExchange } {
    const a = new NetworkKeyExchange(clientKey, 'client', networkKeySession(sides.client, idB.id, idA.id));
    const b = new NetworkKeyExchange(
      serverKey,
      'server',
      networkKeySession(sides.serverSide, idB.id, idA.id),
    );
    return { a, b };
  }

  test(
    "the same key: both sides derive one key and each verifies the other's tag",
    { timeout: TIMEOUT },
    async () => {
      const { a, b } = ends(await session(), key, key);
      assert.equal(a.share.length, 32);
      assert.ok(a.receive(b.share) && b.receive(a.share));
      assert.deepEqual(a.isk, b.isk);
      assert.equal(a.tag.length, 64);
      assert.ok(b.verify(a.tag));
      assert.ok(a.verify(b.tag));
      assert.notDeepEqual(a.tag, b.tag, 'the two directions have different tags');
    },
  );

  test('a different key fails in both directions', { timeout: TIMEOUT }, async () => {
    const { a, b } = ends(await session(), key, otherKey);
    assert.ok(a.receive(b.share) && b.receive(a.share));
    assert.ok(!b.verify(a.tag));
    assert.ok(!a.verify(b.tag));
  });

  test('a tag from one session does not verify in another (replay)', { timeout: TIMEOUT }, async () => {
    const first = ends(await session(), key, key);
    const second = ends(await session(), key, key);
    // Even replaying the whole first exchange, share and tag, into the second session fails.
    assert.ok(first.a.receive(first.b.share) && first.b.receive(first.a.share));
    assert.ok(first.b.verify(first.a.tag));
    assert.ok(second.b.receive(first.a.share));
    assert.ok(!second.b.verify(first.a.tag));
  });

  test(
    'the certified IDs are bound: another pair of IDs gets another key',
    { timeout: TIMEOUT },
    async () => {
      const sides = await session();
      const a = new NetworkKeyExchange(key, 'client', networkKeySession(sides.client, idB.id, idA.id));
      const b = new NetworkKeyExchange(key, 'server', networkKeySession(sides.serverSide, idA.id, idB.id));
      assert.ok(a.receive(b.share) && b.receive(a.share));
      assert.ok(!b.verify(a.tag));
    },
  );

  test('a reflected share or tag is refused (role binding)', { timeout: TIMEOUT }, async () => {
    const { a, b } = ends(await session(), key, key);
    assert.equal(a.receive(a.share), false, 'our own share back is refused');
    assert.ok(a.receive(b.share) && b.receive(a.share));
    assert.ok(!a.verify(a.tag), "the client's own tag does not pass as the server's");
    assert.ok(!b.verify(b.tag));
  });

  test('malformed shares and tags are refused without throwing', { timeout: TIMEOUT }, async () => {
    const { a, b } = ends(await session(), key, key);
    const bad = [
      new Uint8Array(32), // the neutral element
      Buffer.alloc(32, 0xff), // not a canonical encoding
      b.share.subarray(0, 31),
      Buffer.concat([b.share, Buffer.alloc(1)]),
      new Uint8Array(0),
    ];
    for (const share of bad)
      assert.equal(a.receive(share), false, `share ${Buffer.from(share).toString('hex')}`);
    assert.ok(a.receive(b.share) && b.receive(a.share));
    const tag = a.tag;
    assert.ok(!b.verify(tag.subarray(0, 63)));
    assert.ok(!b.verify(Buffer.concat([tag, Buffer.alloc(1)])));
    assert.ok(!b.verify(new Uint8Array(0)));
    assert.ok(b.verify(tag));
  });
});
