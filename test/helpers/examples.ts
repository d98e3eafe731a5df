/** What examples/quickstart.mjs prints, as the README shows it and the package test checks it. */
export const QUICKSTART_OUTPUT =
  'bob connected to alice (1 peer)\n[bob] Hello network!\nchat sent to 1 peer, failed for 0\n[BYTES] 20 bytes from bob\ndone\n';
