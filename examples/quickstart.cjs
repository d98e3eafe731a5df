// The quickstart in a CommonJS project: `node examples/quickstart.cjs`.
const { P2PNode } = require('meshwire');

async function main() {
  const alice = new P2PNode({ name: 'alice', port: 0, host: '127.0.0.1' });
  const bob = new P2PNode({ name: 'bob', port: 0, host: '127.0.0.1' });
  alice.on('chat', (m) => console.log(`[${m.from.name}] ${m.text}`));
  await alice.start();
  await bob.start();
  const connected = alice.waitFor('peer-connected', { timeoutMs: 5000 });
  await bob.connectToPeer(`127.0.0.1:${alice.port}`);
  await connected;
  const chat = alice.waitFor('chat', { timeoutMs: 5000 });
  await bob.broadcastMessage('Hello from CommonJS!');
  await chat;
  await bob.close();
  await alice.close();
  console.log('done');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
