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
  networkKeyProof,
  tlsClientOptions,
  tlsServerOptions,
  verifyNetworkKeyProof,
  verifyPeer,
  type Identity,
} from '../src/secure/index.js';

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
    const deadline = Date.now() + 2000;
    while (server.clientErrors.length === errorsBefore && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
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

describe('network key proofs', () => {
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

  test('the same key verifies in both directions', { timeout: TIMEOUT }, async () => {
    const { client, serverSide } = await session();
    const clientProof = networkKeyProof(client, key, 'client');
    const serverProof = networkKeyProof(serverSide, key, 'server');
    assert.equal(clientProof.length, 32);
    assert.ok(verifyNetworkKeyProof(serverSide, key, 'client', clientProof));
    assert.ok(verifyNetworkKeyProof(client, key, 'server', serverProof));
  });

  test('a different key fails in both directions', { timeout: TIMEOUT }, async () => {
    const { client, serverSide } = await session();
    assert.ok(!verifyNetworkKeyProof(serverSide, key, 'client', networkKeyProof(client, otherKey, 'client')));
    assert.ok(!verifyNetworkKeyProof(client, key, 'server', networkKeyProof(serverSide, otherKey, 'server')));
  });

  test('a proof from one session does not verify in another (replay)', { timeout: TIMEOUT }, async () => {
    const first = await session();
    const second = await session();
    const proof = networkKeyProof(first.client, key, 'client');
    assert.ok(verifyNetworkKeyProof(first.serverSide, key, 'client', proof));
    assert.ok(!verifyNetworkKeyProof(second.serverSide, key, 'client', proof));
  });

  test('a client proof does not verify as a server proof (role binding)', { timeout: TIMEOUT }, async () => {
    const { client, serverSide } = await session();
    const clientProof = networkKeyProof(client, key, 'client');
    assert.ok(!verifyNetworkKeyProof(serverSide, key, 'server', clientProof));
    // Nor can the client's proof be reflected back to the client as if the server made it.
    assert.ok(!verifyNetworkKeyProof(client, key, 'server', clientProof));
  });

  test('malformed proofs are rejected without throwing', { timeout: TIMEOUT }, async () => {
    const { client, serverSide } = await session();
    const proof = networkKeyProof(client, key, 'client');
    assert.ok(!verifyNetworkKeyProof(serverSide, key, 'client', proof.subarray(0, 31)));
    assert.ok(!verifyNetworkKeyProof(serverSide, key, 'client', Buffer.concat([proof, Buffer.alloc(1)])));
    assert.ok(!verifyNetworkKeyProof(serverSide, key, 'client', new Uint8Array(0)));
  });
});
