/**
 * The `meshwire` command: a node, a file receiver and a line-based chat / command interface.
 * It uses only meshwire's public API (`P2PNode`, `sendFile`, `FileReceiver`).
 */
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface, type Interface } from 'node:readline';
import { MeshwireError, P2PNode, type MeshMessage, type NodeOptions, type PeerRef } from '../index.js';
import { FileReceiver, isFileFrame, sendFile, type FileNode } from '../files/index.js';
import { looksLikeAddress, parseCli, USAGE, type CliConfig } from './args.js';
import { COMMAND_HELP, complete, findPeer, parseCommand } from './commands.js';
import {
  describe,
  displayName,
  renderEcho,
  renderLine,
  shouldColor,
  toJsonLine,
  type Category,
  type CliEvent,
  type ErrorLike,
  type ReceiverEvent,
} from './format.js';
import { ProgressView } from './progress.js';
import { Screen } from './screen.js';

/** Streams and environment the CLI runs with (the process's, unless a test passes others). */
export interface CliIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Subscribes to a process signal; returns an unsubscribe function. */
  onSignal: (signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP', handler: () => void) => () => void;
}

/** Exit codes: 0 clean shutdown, 1 runtime failure (port taken, unreadable key file), 2 usage. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const PROMPT = '> ';
/** Largest network key file read. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

/** The package version, read from package.json next to `src/` or `dist/`. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function processIO(): CliIO {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    onSignal: (signal, handler) => {
      process.on(signal, handler);
      return () => process.off(signal, handler);
    },
  };
}

function errorLike(err: unknown): ErrorLike {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? { code, message: err.message } : { message: err.message };
  }
  return { message: String(err) };
}

/**
 * Reads a network key passphrase from a file, with the same rules as identity key files: a
 * regular file, not readable by group or others (POSIX), at most 64 KiB, trimmed, not empty.
 */
async function readNetworkKeyPassphrase(file: string): Promise<string> {
  let info;
  try {
    info = await stat(file);
  } catch (err) {
    throw new MeshwireError(
      'ERR_KEY_FILE',
      `cannot read network key file ${file}: ${errorLike(err).message}`,
    );
  }
  if (!info.isFile()) throw new MeshwireError('ERR_KEY_FILE', `network key file ${file} is not a file`);
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    throw new MeshwireError(
      'ERR_KEY_FILE',
      `network key file ${file} is accessible by other users; run: chmod 600 ${file}`,
    );
  }
  if (info.size > MAX_KEY_FILE_BYTES) {
    throw new MeshwireError('ERR_KEY_FILE', `network key file ${file} is larger than 64 KiB`);
  }
  const text = (await readFile(file, 'utf8')).trim();
  if (text === '') throw new MeshwireError('ERR_KEY_FILE', `network key file ${file} is empty`);
  return text;
}

/**
 * A view of `node` for sendFile that paces file frames to `bytesPerSecond` (the `--rate-limit`
 * option). A frame sent to several peers is paced once: the limit is on file bytes per second.
 */
export function pacedFileNode(node: FileNode, bytesPerSecond: number): FileNode {
  let nextSlot = performance.now();
  const paced = new WeakMap<Uint8Array, Promise<void>>();
  const pace = (data: Uint8Array): Promise<void> => {
    let wait = paced.get(data);
    if (!wait) {
      const now = performance.now();
      const start = Math.max(now, nextSlot);
      nextSlot = start + (data.length / bytesPerSecond) * 1000;
      wait =
        start - now < 1
          ? Promise.resolve()
          : new Promise<void>((resolve) => setTimeout(resolve, start - now).unref());
      paced.set(data, wait);
    }
    return wait;
  };
  return {
    get id() {
      return node.id;
    },
    get maxBytesPerMessage() {
      return node.maxBytesPerMessage;
    },
    messages: (options) => node.messages(options),
    getPeerInfo: () => node.getPeerInfo(),
    sendBytesToPeer: async (peerId, data) => {
      await pace(data);
      await node.sendBytesToPeer(peerId, data);
    },
  };
}

/** Just the reference fields of a peer (PeerInfo carries more). */
function toRef(peer: PeerRef): PeerRef {
  return { id: peer.id, name: peer.name, address: peer.address };
}

function expandHome(file: string): string {
  if (file === '~') return os.homedir();
  if (file.startsWith('~/')) return path.join(os.homedir(), file.slice(2));
  return file;
}

class CliApp {
  readonly #config: CliConfig;
  readonly #io: CliIO;
  readonly #color: boolean;
  readonly #screen: Screen;
  readonly #progress: ProgressView;
  readonly #shutdown = new AbortController();
  /** Chats and sends in flight; end of input waits for them before closing. */
  readonly #pending = new Set<Promise<void>>();
  #node: P2PNode | undefined;
  #receiver: FileReceiver | undefined;
  #rl: Interface | undefined;
  /** Addresses the user asked to dial (bootstrap, /connect): their failures are always shown. */
  readonly #requested = new Set<string>();
  #sendCounter = 0;
  #outputClosed = false;
  #closing: Promise<void> | undefined;
  #done!: (code: number) => void;
  readonly #finished = new Promise<number>((resolve) => (this.#done = resolve));

  constructor(config: CliConfig, io: CliIO) {
    this.#config = config;
    this.#io = io;
    if (config.bootstrap !== undefined) this.#requested.add(config.bootstrap);
    const live = !config.json && io.stdout.isTTY === true;
    this.#color = !config.json && shouldColor(io.stdout.isTTY, io.env);
    this.#screen = new Screen(io.stdout, live);
    this.#progress = new ProgressView(this.#screen, (event) => this.#emit(event));
    // `meshwire ... | head`: once nobody reads our output, leave quietly instead of crashing on
    // EPIPE.
    io.stdout.on('error', () => {
      this.#outputClosed = true;
      void this.#close('output closed');
    });
  }

  /** Runs until shutdown; resolves with the exit code. */
  async run(): Promise<number> {
    const config = this.#config;
    let networkKey = config.networkKey;
    if (config.networkKeyFile !== undefined) {
      try {
        networkKey = await readNetworkKeyPassphrase(config.networkKeyFile);
      } catch (err) {
        this.#error(err);
        return EXIT_FAILURE;
      }
    }

    const options: NodeOptions = {
      port: config.port,
      host: config.host,
      mode: config.compat ? 'compat' : 'secure',
      debug: config.debug,
    };
    const optional: Partial<NodeOptions> = {
      name: config.name,
      bootstrap: config.bootstrap,
      maxPeers: config.maxPeers,
      keyFile: config.keyFile,
      networkKey,
      advertiseHost: config.advertiseHost,
      discoveryIntervalMs: config.discoveryIntervalMs,
      maintenanceIntervalMs: config.maintenanceIntervalMs,
      peerTimeoutMs: config.peerTimeoutMs,
      connectionTimeoutMs: config.connectionTimeoutMs,
      bootstrapRetryMs: config.bootstrapRetryMs,
    };
    for (const [key, value] of Object.entries(optional)) {
      if (value !== undefined) (options as Record<string, unknown>)[key] = value;
    }

    let node: P2PNode;
    let receiver: FileReceiver;
    try {
      node = new P2PNode(options);
      receiver = new FileReceiver(node, {
        downloadsDir: config.downloads,
        ...(config.maxFileSize !== undefined ? { maxFileSize: config.maxFileSize } : {}),
      });
    } catch (err) {
      if (err instanceof MeshwireError && err.code === 'ERR_INVALID_OPTION') {
        this.#io.stderr.write(`meshwire: ${err.message}\n\n${USAGE}`);
        return EXIT_USAGE;
      }
      throw err;
    }
    this.#node = node;
    this.#receiver = receiver;
    node.on('message', (message) => this.#onNodeMessage(message));
    this.#wireReceiver(receiver);

    // Signals are handled from here on, so Ctrl-C / SIGTERM during start-up also close cleanly.
    const offInt = this.#io.onSignal('SIGINT', () => void this.#close('interrupted'));
    const offTerm = this.#io.onSignal('SIGTERM', () => void this.#close('terminated'));
    // The terminal went away: leave as cleanly as for Ctrl-C.
    const offHup = this.#io.onSignal('SIGHUP', () => void this.#close('hangup'));
    try {
      try {
        // The receiver subscribes to the node's messages synchronously, before the node can
        // accept anyone, so no file frame is missed.
        const receiverReady = receiver.start();
        await node.start();
        await receiverReady;
      } catch (err) {
        if (this.#closing) return await this.#finished;
        this.#error(err);
        await receiver.close().catch(() => undefined);
        await node.close().catch(() => undefined);
        return EXIT_FAILURE;
      }
      if (!this.#closing) this.#startInput();
      return await this.#finished;
    } finally {
      offInt();
      offTerm();
      offHup();
    }
  }

  #startInput(): void {
    const { stdin, stdout } = this.#io;
    const interactive = !this.#config.json && stdin.isTTY === true && stdout.isTTY === true;
    const rl = createInterface({
      input: stdin,
      ...(interactive
        ? {
            output: stdout,
            prompt: PROMPT,
            historySize: 1000,
            removeHistoryDuplicates: true,
            completer: (line: string) =>
              complete(
                line,
                this.#requireNode()
                  .getPeerInfo()
                  .peers.map((p) => p.name),
              ),
          }
        : {}),
      terminal: interactive,
      crlfDelay: Infinity,
    });
    this.#rl = rl;
    rl.on('line', (line) => this.#onLine(line, interactive));
    // Ctrl-C at an interactive prompt arrives here (the terminal is in raw mode).
    rl.on('SIGINT', () => void this.#close('interrupted'));
    rl.on('close', () => void this.#endOfInput());
    if (interactive) {
      this.#screen.attach(rl);
      this.#info('SYSTEM', 'Type a message to chat, or /help for commands.');
    }
  }

  #onLine(line: string, interactive: boolean): void {
    if (this.#closing) return;
    const command = parseCommand(line);
    if (interactive) {
      // Chat is echoed as `[time] [me] text`, so the typed line is replaced by the echo; commands
      // stay visible above their output.
      const keep = command.kind !== 'chat' && command.kind !== 'empty';
      this.#screen.submitted(PROMPT, line, keep ? renderEcho(PROMPT + line, this.#color) : undefined);
    }
    switch (command.kind) {
      case 'empty':
        return;
      case 'chat':
        this.#track(this.#chat(command.text));
        return;
      case 'peers':
        this.#emit({ type: 'peers', time: Date.now(), info: this.#requireNode().getPeerInfo() });
        return;
      case 'discover': {
        const node = this.#requireNode();
        const count = node.getPeerInfo().peers.length;
        node.discover();
        this.#info(
          'DISCOVERY',
          count === 0
            ? 'No peers connected; retrying known addresses'
            : `Asking ${count} ${count === 1 ? 'peer' : 'peers'} for their peers`,
        );
        return;
      }
      case 'connect':
        this.#track(this.#connect(command.address));
        return;
      case 'send':
        this.#track(this.#send(command.file, command.peer));
        return;
      case 'help':
        this.#emit({
          type: 'info',
          time: Date.now(),
          category: 'SYSTEM',
          text: 'Commands:',
          details: COMMAND_HELP,
        });
        return;
      case 'quit':
        void this.#close('quit');
        return;
      case 'error':
        this.#emit({ type: 'command-error', time: Date.now(), message: command.message });
        return;
    }
  }

  #track(task: Promise<void>): void {
    const tracked = task.catch((err: unknown) => this.#error(err));
    this.#pending.add(tracked);
    void tracked.finally(() => this.#pending.delete(tracked));
  }

  async #chat(text: string): Promise<void> {
    const node = this.#requireNode();
    let report;
    try {
      report = await node.broadcastMessage(text);
    } catch (err) {
      this.#error(err);
      return;
    }
    this.#emit({
      type: 'chat-sent',
      time: Date.now(),
      name: displayName(node),
      text,
      sent: report.sent.length,
      failed: report.failed.length,
    });
    const peers = new Map(node.getPeerInfo().peers.map((p) => [p.id, p]));
    for (const { peerId, error } of report.failed) {
      const who = peers.get(peerId);
      this.#emit({
        type: 'command-error',
        time: Date.now(),
        message: `Message not delivered to ${who ? displayName(who) : peerId}: ${error.message}`,
        code: error.code,
      });
    }
    if (report.sent.length === 0 && report.failed.length === 0 && !this.#config.json) {
      this.#info('SYSTEM', 'No peers connected; nobody received that');
    }
  }

  async #connect(address: string): Promise<void> {
    const node = this.#requireNode();
    if (!looksLikeAddress(address)) {
      this.#emit({
        type: 'command-error',
        time: Date.now(),
        message: `Not a host:port address: ${JSON.stringify(address)}`,
      });
      return;
    }
    const existing = node.getPeerInfo().peers.find((p) => p.address === address);
    if (existing) {
      this.#info('NETWORK', `Already connected to ${displayName(existing)} at ${address}`);
      return;
    }
    this.#info('NETWORK', `Connecting to ${address}...`);
    this.#requested.add(address);
    try {
      await node.connectToPeer(address);
    } catch (err) {
      // Dial failures are reported by the node as connection-failed; only argument errors are not.
      const code = (err as { code?: unknown }).code;
      if (
        code === 'ERR_INVALID_ARGUMENT' ||
        code === 'ERR_INVALID_OPTION' ||
        !(err instanceof MeshwireError)
      ) {
        this.#error(err);
      }
    } finally {
      this.#requested.delete(address);
    }
  }

  async #send(file: string, query: string | undefined): Promise<void> {
    const node = this.#requireNode();
    const peers = node.getPeerInfo().peers;
    if (peers.length === 0) {
      this.#emit({ type: 'command-error', time: Date.now(), message: 'No peers connected; nothing sent' });
      return;
    }
    let targets: PeerRef[] = peers.map(toRef);
    if (query !== undefined) {
      const found = findPeer(targets, query);
      if ('error' in found) {
        this.#emit({ type: 'command-error', time: Date.now(), message: found.error });
        return;
      }
      targets = [found.peer];
    }
    const filePath = path.resolve(this.#io.cwd, expandHome(file));
    let size: number;
    try {
      const info = await stat(filePath);
      if (!info.isFile()) throw new Error('not a regular file');
      size = info.size;
    } catch (err) {
      this.#emit({
        type: 'command-error',
        time: Date.now(),
        message: `Cannot send ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorLike(err).message}`,
      });
      return;
    }
    const id = ++this.#sendCounter;
    const key = `send:${id}`;
    const name = path.basename(filePath);
    const started = performance.now();
    const label = targets.length === 1 ? displayName(targets[0] as PeerRef) : `all (${targets.length})`;
    this.#emit({ type: 'send-start', time: Date.now(), id, name, size, to: targets });
    const fileNode =
      this.#config.rateLimit !== undefined ? pacedFileNode(node, this.#config.rateLimit) : node;
    try {
      const result = await sendFile(fileNode, filePath, {
        to: targets.map((p) => p.id),
        signal: this.#shutdown.signal,
        onProgress: (p) =>
          this.#progress.update(
            key,
            {
              direction: 'send',
              name: p.name,
              peer: label,
              done: p.bytesSent,
              total: p.totalBytes,
              rate: p.rate,
            },
            {
              type: 'send-progress',
              time: Date.now(),
              id,
              ...p,
              rate: Math.round(p.rate),
              etaMs: Math.round(p.etaMs),
            },
          ),
      });
      this.#progress.end(key);
      const byId = new Map(targets.map((p) => [p.id, p]));
      const ref = (peerId: string): PeerRef => byId.get(peerId) ?? { id: peerId, name: peerId, address: '?' };
      this.#emit({
        type: 'send-complete',
        time: Date.now(),
        id,
        name: result.name,
        size: result.size,
        sha256: result.sha256,
        sent: result.sent.map(ref),
        failed: result.failed.map((f) => ({ peer: ref(f.peerId), error: errorLike(f.error) })),
        elapsedMs: performance.now() - started,
      });
    } catch (err) {
      this.#progress.end(key);
      this.#emit({ type: 'send-error', time: Date.now(), id, name, error: errorLike(err) });
    }
  }

  #wireReceiver(receiver: FileReceiver): void {
    const keyOf = (e: { from: PeerRef; name?: string }): string => `recv:${e.from.id}:${e.name ?? ''}`;
    receiver.on('file-start', (e) => {
      this.#emitReceiver({ type: 'file-start', time: Date.now(), ...e });
      if (this.#screen.live) {
        this.#progress.update(
          keyOf(e),
          { direction: 'recv', name: e.name, peer: displayName(e.from), done: 0, total: e.size, rate: 0 },
          {
            type: 'file-progress',
            time: Date.now(),
            from: e.from,
            name: e.name,
            bytesReceived: 0,
            size: e.size,
            rate: 0,
          },
        );
      }
    });
    receiver.on('file-progress', (e) =>
      this.#progress.update(
        keyOf(e),
        {
          direction: 'recv',
          name: e.name,
          peer: displayName(e.from),
          done: e.bytesReceived,
          total: e.size,
          rate: e.rate,
        },
        { type: 'file-progress', time: Date.now(), ...e, rate: Math.round(e.rate) },
      ),
    );
    receiver.on('file-complete', (e) => {
      this.#progress.end(keyOf(e));
      this.#emitReceiver({ type: 'file-complete', time: Date.now(), ...e });
    });
    receiver.on('file-error', (e) => {
      this.#progress.end(keyOf(e));
      this.#emitReceiver({ type: 'file-error', time: Date.now(), ...e });
    });
  }

  #emitReceiver(event: ReceiverEvent): void {
    this.#emit(event);
  }

  #onNodeMessage(message: MeshMessage): void {
    // File frames are the receiver's business; it reports them as file events.
    if (message.type === 'bytes' && isFileFrame(message.data)) return;
    if (
      !this.#config.json &&
      !this.#config.debug &&
      message.type === 'connection-failed' &&
      (message.error.code === 'ERR_DUPLICATE_PEER' || !this.#requested.has(message.address))
    ) {
      // Failed background dials (discovery redialling known addresses, or two nodes dialling
      // each other at once) are routine; --debug and --json show them. Dials the user asked
      // for (the bootstrap address, /connect) are always reported.
      return;
    }
    if (message.type === 'bootstrap-success' || message.type === 'bootstrap-failed') {
      this.#requested.delete(message.address);
    }
    this.#emit(message);
  }

  #emit(event: CliEvent): void {
    if (this.#outputClosed) return;
    if (this.#config.json) {
      this.#screen.print(toJsonLine(event));
      return;
    }
    const items = describe(event, {
      maxPeers: this.#node?.maxPeers ?? 10,
      now: Date.now(),
      cwd: this.#io.cwd,
      isFileFrame,
    });
    if (items.length > 0) this.#screen.print(items.map((item) => renderLine(item, this.#color)));
  }

  #info(category: Category, text: string): void {
    this.#emit({ type: 'info', time: Date.now(), category, text });
  }

  #error(err: unknown): void {
    const { code, message } = errorLike(err);
    this.#emit({ type: 'command-error', time: Date.now(), message, ...(code ? { code } : {}) });
  }

  #requireNode(): P2PNode {
    if (!this.#node) throw new MeshwireError('ERR_NOT_STARTED', 'node not started');
    return this.#node;
  }

  /** End of input (Ctrl-D, or the pipe closed): finish what was asked, then leave. */
  async #endOfInput(): Promise<void> {
    if (this.#closing) return;
    while (this.#pending.size > 0 && !this.#closing) await Promise.allSettled([...this.#pending]);
    await this.#close('end of input');
  }

  /** Closes everything once; peers see the disconnect at once. */
  #close(reason: string): Promise<void> {
    if (this.#closing) {
      if (reason === 'interrupted' || reason === 'terminated' || reason === 'hangup') {
        // A second Ctrl-C while shutting down: the user really wants out.
        this.#done(EXIT_FAILURE);
      }
      return this.#closing;
    }
    this.#closing = this.#closeNow(reason);
    return this.#closing;
  }

  async #closeNow(reason: string): Promise<void> {
    // Yield first so that #closing is set before anything below can re-enter #close (rl.close()
    // emits 'close' synchronously).
    await Promise.resolve();
    this.#info('SYSTEM', `Shutting down (${reason})`);
    this.#shutdown.abort();
    // Leave the live area (bars, prompt) first: from here on output is plain lines.
    this.#screen.close();
    this.#rl?.close();
    await this.#receiver?.close().catch((err: unknown) => this.#error(err));
    await this.#node?.close().catch((err: unknown) => this.#error(err));
    await Promise.allSettled([...this.#pending]);
    this.#info('SYSTEM', 'Node stopped');
    this.#done(EXIT_OK);
  }
}

/**
 * Runs the CLI with `argv` (arguments after the script name). Resolves with the exit code once
 * the node has shut down; usage errors resolve with 2 without starting anything.
 */
export async function run(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const parsed = parseCli(argv, io.env, io.cwd);
  switch (parsed.kind) {
    case 'help':
      io.stdout.write(USAGE);
      return EXIT_OK;
    case 'version':
      io.stdout.write(`meshwire ${packageVersion()}\n`);
      return EXIT_OK;
    case 'error':
      io.stderr.write(`meshwire: ${parsed.message}\n\n${USAGE}`);
      return EXIT_USAGE;
    case 'run':
      return new CliApp(parsed.config, io).run();
  }
}
