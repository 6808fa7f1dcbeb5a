// The Chromium every browser test and benchmark starts: Debian's (test/run-all.mjs installs it
// when missing; $RIVULET_CHROMIUM names another), never a downloaded browser, with the same flags.
export const CHROMIUM = process.env.RIVULET_CHROMIUM ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];
