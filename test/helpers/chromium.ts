// Debian's headless Chromium, as every browser test starts it: no sandbox (containers deny it), no GPU,
// and none of the background traffic that the machine's network would refuse.
export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
