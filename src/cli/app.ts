// Over ~400 lines (about 460): the CLI's lifecycle (start, input, headless, shutdown, servers) in one place;
// commands, text and files live in their own modules.
/**
 * The `meshwire` command at run time: a node, a file receiver and a line-based chat / command
 * interface, interactive on a terminal, headless as a service. It uses meshwire's public API
 * (`P2PNode`, `sendFile`, `FileReceiver`) and secure/key-file.ts for the network key file.
 */
import { createInterface, type Interface } from 'node:readline';
import {
  DEFAULT_BOOTSTRAP_RETRY_MS,
  DEFAULT_MAX_PEERS,
  MeshwireError,
  P2PNode,
  type MeshMessage,
} from '../index.js';
import { FileReceiver, FileShare, isFileFrame, isPieceFrame } from '../files/index.js';
import { startDashboard, startMetricsServer } from '../web/index.js';
import { readSecretText } from '../secure/key-file.js';
import type { CliConfig } from './args.js';
import { BootstrapWatch } from './bootstrap-watch.js';
import type { Category, CliEvent } from './cli-events.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIO } from './cli-io.js';
import { renderEcho, renderLine, shouldColor } from './colour.js';
import { COMMAND_HELP, complete, parseCommand } from './commands.js';
import { describe, type FormatContext } from './event-text.js';
import { sendFileCommand, wireReceiver } from './file-commands.js';
import { ShareCommands } from './share-commands.js';
import { toJsonLine } from './json-output.js';
import { chatCommand, connectCommand } from './network-commands.js';
import { cliOptionMessage, errorLike, nodeOptions } from './node-config.js';
import { ProgressView } from './progress.js';
import { Screen } from './screen.js';
import { usageError } from './usage.js';

const PROMPT = '> ';

/** One run of the CLI: created by `run()`, resolves with the exit code. */
export class CliApp {
  readonly config: CliConfig;
  readonly io: CliIO;
  readonly #color: boolean;
  readonly screen: Screen;
  readonly progress: ProgressView;
  readonly #shutdown = new AbortController();
  /** Chats and sends in flight; shutdown waits for them. */
  readonly #pending = new Set<Promise<void>>();
  #node: P2PNode | undefined;
  #receiver: FileReceiver | undefined;
  /** Secure mode only: content-addressed, resumable files (`/share`, `/get`, `/files`). */
  #files: ShareCommands | undefined;
  /** The dashboard and metrics listeners (`--web`, `--metrics`), closed before the node. */
  readonly #servers: { close(): Promise<void> }[] = [];
  #rl: Interface | undefined;
  readonly #bootstrap: BootstrapWatch;
  /** Addresses the user asked to dial (bootstrap, /connect): their failures are always shown. */
  readonly #requested = new Set<string>();
  /** Piped input lines wait here, in order, until bootstrap is over. */
  #inputQueue: Promise<void> = Promise.resolve();
  #outputClosed = false;
  #closing: Promise<void> | undefined;
  #done!: (code: number) => void;
  readonly #finished = new Promise<number>((resolve) => (this.#done = resolve));

  constructor(config: CliConfig, io: CliIO) {
    this.config = config;
    this.io = io;
    this.#bootstrap = new BootstrapWatch(
      config.bootstrap,
      config.bootstrapRetryMs ?? DEFAULT_BOOTSTRAP_RETRY_MS,
    );
    if (config.bootstrap !== undefined) this.#requested.add(config.bootstrap);
    const live = !config.json && io.stdout.isTTY === true;
    this.#color = !config.json && shouldColor(io.stdout, io.env);
    this.screen = new Screen(io.stdout, live);
    this.progress = new ProgressView(this.screen, (event) => this.emit(event));
    // `meshwire ... | head`: once nobody reads our output, leave quietly instead of crashing on
    // EPIPE.
    io.stdout.on('error', () => {
      this.#outputClosed = true;
      void this.#close('output closed');
    });
  }

  /** The node (after `run()` created it). */
  get node(): P2PNode {
    if (!this.#node) throw new MeshwireError('ERR_NOT_STARTED', 'node not started');
    return this.#node;
  }

  /** Secure mode: FileShare's side of `/send` (see file-commands.ts). */
  get shareFiles(): ShareCommands | undefined {
    return this.#files;
  }

  /** Aborted when the CLI shuts down. */
  get shutdownSignal(): AbortSignal {
    return this.#shutdown.signal;
  }

  /** Runs until shutdown; resolves with the exit code. */
  async run(): Promise<number> {
    const config = this.config;
    for (const warning of config.warnings) this.io.stderr.write(`meshwire: warning: ${warning}\n`);
    let networkKey = config.networkKey;
    if (config.networkKeyFile !== undefined) {
      try {
        networkKey = await readSecretText(config.networkKeyFile, 'network key file');
      } catch (err) {
        this.error(err);
        return EXIT_FAILURE;
      }
    }
    let node: P2PNode;
    let receiver: FileReceiver;
    try {
      node = new P2PNode(nodeOptions(config, networkKey));
      receiver = new FileReceiver(node, {
        downloadsDir: config.downloads,
        ...(config.maxFileSize !== undefined ? { maxFileSize: config.maxFileSize } : {}),
      });
      if (!config.compat) {
        const share = new FileShare(node, {
          downloadsDir: config.downloads,
          ...(config.maxFileSize !== undefined ? { maxFileSize: config.maxFileSize } : {}),
          ...(config.rateLimit !== undefined ? { uploadBytesPerSecondPerPeer: config.rateLimit } : {}),
          accept: (offer, from) => files.accept(offer, from),
        });
        const files: ShareCommands = new ShareCommands(this, share);
        this.#files = files;
      }
    } catch (err) {
      if (err instanceof MeshwireError && err.code === 'ERR_INVALID_OPTION') {
        this.io.stderr.write(usageError(cliOptionMessage(err.message)));
        return EXIT_USAGE;
      }
      throw err;
    }
    this.#node = node;
    this.#receiver = receiver;
    node.on('message', (message) => this.#onNodeMessage(message));
    wireReceiver(this, receiver);

    // Signals are handled from here on, so Ctrl-C / SIGTERM during start-up also close cleanly.
    const offInt = this.io.onSignal('SIGINT', () => void this.#close('interrupted'));
    const offTerm = this.io.onSignal('SIGTERM', () => void this.#close('terminated'));
    // The terminal went away: leave as cleanly as for Ctrl-C. Only a session on a terminal
    // hangs up: headless, SIGHUP is ignored, as under nohup (Node resets the ignore nohup set,
    // so without a handler a service would die when the terminal that started it closes).
    const hangsUp = this.io.stdin.isTTY === true && !config.noInput;
    const offHup = this.io.onSignal('SIGHUP', () => {
      if (hangsUp) void this.#close('hangup');
      else this.info('SYSTEM', 'SIGHUP ignored (headless); stop with SIGINT or SIGTERM');
    });
    try {
      try {
        // The receiver subscribes to the node's messages synchronously, before the node can
        // accept anyone, so no file frame is missed.
        const receiverReady = receiver.start();
        await node.start();
        await receiverReady;
        // The share subscribed when it was constructed (above, before the node started), so
        // offers that arrived meanwhile wait for it; it reads the peer list as it starts, so
        // only once the node runs. It resumes interrupted downloads.
        await this.#files?.share.start();
      } catch (err) {
        if (this.#closing) return await this.#finished;
        this.error(err);
        await this.#files?.close().catch(() => undefined);
        await receiver.close().catch(() => undefined);
        await node.close().catch(() => undefined);
        return EXIT_FAILURE;
      }
      try {
        await this.#startServers(node, receiver);
      } catch (err) {
        this.error(err);
        for (const server of this.#servers.splice(0)) await server.close().catch(() => undefined);
        await this.#files?.close().catch(() => undefined);
        await receiver.close().catch(() => undefined);
        await node.close().catch(() => undefined);
        return EXIT_FAILURE;
      }
      if (config.bootstrap !== undefined) {
        // Bootstrapped here rather than by the node, so that a failure that cannot heal (a
        // mode mismatch) stops the retries, and piped input knows when it is over.
        node.bootstrap(config.bootstrap, { signal: this.#bootstrap.signal }).catch(() => undefined);
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
    const { stdin, stdout } = this.io;
    if (this.config.noInput) {
      this.info('SYSTEM', 'Running without input (--no-input) until SIGINT or SIGTERM');
      return;
    }
    const interactive = !this.config.json && stdin.isTTY === true && stdout.isTTY === true;
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
                this.node.getPeerInfo().peers.map((p) => p.name),
              ),
          }
        : {}),
      terminal: interactive,
      crlfDelay: Infinity,
    });
    this.#rl = rl;
    rl.on('line', (line) => {
      if (interactive) this.#onLine(line, true);
      // Piped lines keep their order and wait for bootstrap, so they reach the network.
      else
        this.#inputQueue = this.#inputQueue
          .then(() => this.#bootstrap.done)
          .then(() => this.#onLine(line, false));
    });
    // Ctrl-C at an interactive prompt arrives here (the terminal is in raw mode).
    rl.on('SIGINT', () => void this.#close('interrupted'));
    rl.on('close', () => void this.#endOfInput(stdin.isTTY === true));
    if (interactive) {
      this.screen.attach(rl);
      this.info('SYSTEM', 'Type a message to chat, or /help for commands.');
    }
  }

  #onLine(line: string, interactive: boolean): void {
    if (this.#closing) return;
    // `--accept-files ask`: y/n answers the question about a peer's offer.
    if (this.#files?.prompt.answer(line)) {
      if (interactive) this.screen.submitted(PROMPT, line, renderEcho(PROMPT + line, this.#color));
      return;
    }
    const command = parseCommand(line);
    if (interactive) {
      // Chat is echoed as `[time] <me id> text`, so the typed line is replaced by the echo;
      // commands stay visible above their output.
      const keep = command.kind !== 'chat' && command.kind !== 'empty';
      this.screen.submitted(PROMPT, line, keep ? renderEcho(PROMPT + line, this.#color) : undefined);
    }
    switch (command.kind) {
      case 'empty':
        return;
      case 'chat':
        this.track(chatCommand(this, command.text));
        return;
      case 'peers': {
        const stats = this.node.overlayStats();
        this.emit({
          type: 'peers',
          time: Date.now(),
          info: this.node.getPeerInfo(),
          ...(stats
            ? {
                overlay: {
                  joined: stats.joined,
                  active: stats.active,
                  passive: stats.passive,
                  sizeEstimate: stats.sizeEstimate,
                },
              }
            : {}),
        });
        return;
      }
      case 'discover': {
        const count = this.node.getPeerInfo().peers.length;
        this.node.discover();
        this.info(
          'DISCOVERY',
          count === 0
            ? 'No peers connected; retrying known addresses'
            : `Asking ${count} ${count === 1 ? 'peer' : 'peers'} for their peers`,
        );
        return;
      }
      case 'connect':
        this.track(connectCommand(this, command.address, this.#requested));
        return;
      case 'send':
        this.track(sendFileCommand(this, command.file, command.peer));
        return;
      case 'share':
      case 'get':
      case 'files':
        if (this.#files) this.#files.run(command, (task) => this.track(task), this.config.json);
        else
          this.commandError(
            `/${command.kind} needs secure mode`,
            'with --compat, use /send (the original protocol)',
          );
        return;
      case 'help':
        this.emit({
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
        this.commandError(command.message);
        return;
    }
  }

  /** Runs `task` in the background; its failure is reported, shutdown waits for it. */
  track(task: Promise<void>): void {
    const tracked = task.catch((err: unknown) => this.error(err));
    this.#pending.add(tracked);
    void tracked.finally(() => this.#pending.delete(tracked));
  }

  #onNodeMessage(message: MeshMessage): void {
    // File frames are the receiver's business; it reports them as file events.
    if (message.type === 'bytes' && (isFileFrame(message.data) || isPieceFrame(message.data))) return;
    if (message.type === 'connection-failed') {
      if (message.error.code === 'ERR_DUPLICATE_PEER' && !this.config.debug && !this.config.json) return;
      if (message.address === this.#bootstrap.address && this.#requested.has(message.address)) {
        // A failed bootstrap attempt: numbered, with what happens next.
        const attempt = this.#bootstrap.failed(message.error, message.time);
        if (this.config.json) this.emit(message);
        this.emit(attempt);
        return;
      }
      if (!this.config.json && !this.config.debug && !this.#requested.has(message.address)) {
        // Failed background dials (discovery redialling known addresses, or two nodes dialling
        // each other at once) are routine; --debug and --json show them. Dials the user asked
        // for (the bootstrap address, /connect) are always reported.
        return;
      }
    }
    if (message.type === 'bootstrap-success' || message.type === 'bootstrap-failed') {
      this.#requested.delete(message.address);
      this.#bootstrap.finish();
      if (message.type === 'bootstrap-failed' && this.#bootstrap.gaveUpWith) {
        const error = new MeshwireError('ERR_BOOTSTRAP_FAILED', message.error.message, {
          cause: this.#bootstrap.gaveUpWith,
        });
        this.emit({ ...message, error });
        return;
      }
    }
    this.emit(message);
  }

  /** Starts the dashboard (`--web`) and the metrics listener (`--metrics`) on 127.0.0.1. */
  async #startServers(node: P2PNode, receiver: FileReceiver): Promise<void> {
    const onWarning = (text: string): void => this.info('SYSTEM', text);
    if (this.config.webPort !== undefined) {
      const dashboard = await startDashboard(node, {
        port: this.config.webPort,
        receiver,
        ...(this.#files ? { share: this.#files.share } : {}),
        metrics: node.metricsRegistry,
        onWarning,
      });
      this.#servers.push(dashboard);
      this.emit({ type: 'dashboard', time: Date.now(), url: dashboard.url });
    }
    if (this.config.metricsPort !== undefined) {
      const server = await startMetricsServer(node, {
        port: this.config.metricsPort,
        metrics: node.metricsRegistry,
        onWarning,
      });
      this.#servers.push(server);
      this.emit({ type: 'metrics', time: Date.now(), url: server.url });
    }
  }

  /** Prints an event: a JSON line with --json, else its text lines. */
  emit(event: CliEvent): void {
    if (this.#outputClosed) return;
    if (this.config.json) {
      this.screen.print(toJsonLine(event));
      return;
    }
    const items = describe(event, this.#formatContext());
    if (items.length > 0) this.screen.print(items.map((item) => renderLine(item, this.#color)));
  }

  #formatContext(): FormatContext {
    return {
      maxPeers: this.config.maxPeers ?? DEFAULT_MAX_PEERS,
      now: Date.now(),
      cwd: this.io.cwd,
      isFileFrame: (data) => isFileFrame(data) || isPieceFrame(data),
      mode: this.config.compat ? 'compat' : 'secure',
      port: this.#node?.port ?? this.config.port,
      ...(this.config.keyFile !== undefined ? { keyFile: this.config.keyFile } : {}),
    };
  }

  /** A status line. */
  info(category: Category, text: string): void {
    this.emit({ type: 'info', time: Date.now(), category, text });
  }

  /** An error line about a command the user typed, with an optional hint. */
  commandError(message: string, hint?: string): void {
    this.emit({ type: 'command-error', time: Date.now(), message, ...(hint ? { hint } : {}) });
  }

  /** An error line for anything thrown. */
  error(err: unknown): void {
    const { code, message: raw } = errorLike(err);
    const message = code === 'ERR_INVALID_OPTION' ? cliOptionMessage(raw) : raw;
    this.emit({ type: 'command-error', time: Date.now(), message, ...(code ? { code } : {}) });
  }

  /**
   * End of input. At a terminal (Ctrl-D) the user is leaving: finish what was asked, then close.
   * Otherwise the input was a pipe or /dev/null (systemd, `docker run` without -t, nohup): after
   * the piped lines, keep running headless until SIGINT or SIGTERM.
   */
  async #endOfInput(fromTerminal: boolean): Promise<void> {
    if (this.#closing) return;
    if (!fromTerminal) {
      await this.#inputQueue;
      if (!this.#closing) this.info('SYSTEM', 'End of input; running headless until SIGINT or SIGTERM');
      return;
    }
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
    this.info('SYSTEM', `Shutting down (${reason})`);
    this.#shutdown.abort();
    this.#bootstrap.finish();
    // Leave the live area (bars, prompt) first: from here on output is plain lines.
    this.screen.close();
    this.#rl?.close();
    for (const server of this.#servers.splice(0))
      await server.close().catch((err: unknown) => this.error(err));
    // Saves every download's resume state: the next start in this folder continues them.
    await this.#files?.close().catch((err: unknown) => this.error(err));
    await this.#receiver?.close().catch((err: unknown) => this.error(err));
    await this.#node?.close().catch((err: unknown) => this.error(err));
    await Promise.allSettled([...this.#pending]);
    this.info('SYSTEM', 'Node stopped');
    this.#done(EXIT_OK);
  }
}
