/**
 * `meshwire <args>`: parses the command line and runs what it asks for (help, version,
 * keygen, or a node). Usage errors are one line plus where to find help, exit code 2.
 */
import { generateNetworkKey } from '../secure/network-key-gen.js';
import { CliApp } from './app.js';
import { parseCli } from './args.js';
import { EXIT_OK, EXIT_USAGE, packageVersion, processIO, type CliIO } from './cli-io.js';
import { USAGE, usageError } from './usage.js';

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
    case 'keygen':
      // Only the key on stdout, so that `meshwire keygen --network > net.key` is the key file.
      io.stdout.write(`${generateNetworkKey()}\n`);
      if (io.stdout.isTTY === true) {
        io.stderr.write(
          'meshwire: keep it secret; pass it with --network-key-file <file> (mode 0600) or MESHWIRE_NETWORK_KEY\n',
        );
      }
      return EXIT_OK;
    case 'error':
      io.stderr.write(usageError(parsed.message));
      return EXIT_USAGE;
    case 'run':
      return new CliApp(parsed.config, io).run();
  }
}
