/**
 * Child side of the benchmark processes: answers the parent's commands over the IPC channel.
 * A child whose parent goes away exits at once, so no benchmark process outlives the suite.
 */

/** A command from the parent. `exit` is built in. */
export interface Request {
  id: number;
  cmd: string;
  args: object;
}

/** A child's answer to a {@link Request}, or its one-time ready signal. */
export type Reply =
  { ready: true } | { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** Command handlers: each gets the parent's arguments and returns a JSON-serializable result. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handlers = Record<string, (args: any) => unknown>;

function send(reply: Reply): void {
  process.send?.(reply);
}

/** Serves `handlers` until the parent sends `exit` (then `cleanup` runs) or disconnects. */
export function serve(handlers: Handlers, cleanup?: () => Promise<void>): void {
  if (!process.send) throw new Error('benchmark workers run as children of bench/run.ts');
  process.on('disconnect', () => process.exit(1));
  process.on('message', (request: Request) => {
    if (request.cmd === 'exit') {
      const done = (): never => process.exit(0);
      const timer = setTimeout(done, 3000);
      timer.unref();
      void (cleanup ? cleanup() : Promise.resolve()).catch(() => undefined).then(done);
      return;
    }
    const handler = handlers[request.cmd];
    if (!handler) {
      send({ id: request.id, ok: false, error: `unknown command ${request.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(request.args))
      .then(
        (result) => send({ id: request.id, ok: true, result: result ?? null }),
        (err: unknown) =>
          send({
            id: request.id,
            ok: false,
            error: err instanceof Error ? (err.stack ?? err.message) : String(err),
          }),
      );
  });
  send({ ready: true });
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Monotonic time in milliseconds, with sub-microsecond resolution. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
