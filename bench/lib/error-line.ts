/**
 * The first line of an error's message: what a failed benchmark row or log line shows (stacks
 * and multi-line details of child processes stay in the logs).
 */
export function errorLine(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}
