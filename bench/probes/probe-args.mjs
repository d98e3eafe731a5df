/**
 * The command line of the standalone probes: `--name value` options taken out of the argument
 * list, so what remains are the positional arguments (the trees under test).
 */

/**
 * Returns a reader that removes `--name value` from `args` and returns the value, or `fallback`
 * when the option is absent.
 */
export function optionReader(args) {
  return (name, fallback) => {
    const at = args.indexOf(name);
    if (at < 0) return fallback;
    const value = args[at + 1];
    args.splice(at, 2);
    return value;
  };
}
