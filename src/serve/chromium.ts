/** The flags headless Debian Chromium needs here: WebGPU on (it is off on Linux by default), no
 * sandbox (root in a container), no background traffic to hosts that cannot be reached anyway.
 * Shared by the browser tests and the peer benchmark's page. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];
