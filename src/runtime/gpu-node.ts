/**
 * Finding a WebGPU adapter in Node (Dawn's binding, npm `webgpu`).
 *
 * On a machine without a GPU, Dawn needs a software Vulkan driver. Two work (see
 * ../shared/docs/webgpu-here.md): lavapipe from Mesa >= 24, the faster one, and SwiftShader as
 * shipped with Debian's Chromium. `auto` takes a hardware adapter when one appears, else
 * lavapipe, else SwiftShader, and says why. `INCEPT_DRIVER` or the `driver` option pins one.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { NoAdapterError } from './errors.js';
import { DRIVER_CHOICES, isSoftwareAdapter, type AdapterSelection, type DriverChoice } from './device.js';

export { DRIVER_CHOICES, type DriverChoice };

/** Where Debian and most distributions install the two software drivers' Vulkan manifests. */
const LAVAPIPE_MANIFESTS = [
  '/usr/share/vulkan/icd.d/lvp_icd.json',
  '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json',
  '/usr/share/vulkan/icd.d/lvp_icd.aarch64.json',
  '/etc/vulkan/icd.d/lvp_icd.json',
  '/usr/local/share/vulkan/icd.d/lvp_icd.json',
];
const SWIFTSHADER_MANIFESTS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
];

/** The minimum Mesa whose lavapipe Dawn accepts (22.3 lacks features Dawn requires). */
const MIN_MESA_MAJOR = 24;

export const INSTALL_HINT =
  'Install a software Vulkan driver (as root on Debian 12): ' +
  'echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/backports.list && ' +
  'apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1 ' +
  '(lavapipe), or apt-get install -y chromium libvulkan1 (SwiftShader). ' +
  '`npm run setup` does this for you.';

type WebGpuModule = { create(flags: string[]): GPU; globals: Record<string, unknown> };

let webgpuModule: Promise<WebGpuModule> | undefined;

async function loadDawn(): Promise<WebGpuModule> {
  webgpuModule ??= (async () => {
    let mod: WebGpuModule;
    try {
      mod = (await import('webgpu')) as unknown as WebGpuModule;
    } catch (e) {
      throw new NoAdapterError(`cannot load the npm package 'webgpu' (Dawn's Node binding): ${(e as Error).message}. ` + 'Run `npm ci` in the project folder.');
    }
    // GPUBufferUsage, GPUShaderStage and friends are globals in a browser; Dawn exports them.
    for (const [k, v] of Object.entries(mod.globals)) {
      if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    }
    return mod;
  })();
  return webgpuModule;
}

function firstExisting(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

function mesaMajor(info: GPUAdapterInfo): number | undefined {
  const m = /Mesa (\d+)\./.exec(info.description);
  return m ? Number(m[1]) : undefined;
}

/** One Dawn instance per set of flags for the whole process. Each instance is a Vulkan instance
 * with its drivers loaded; creating one per engine made every create/destroy cycle keep several
 * MiB that only a finalizer (if ever) gave back. Engines share the instance, each with its own
 * adapter and device. */
const dawnInstances = new Map<string, GPU>();

/** Vulkan loader variables set while an instance first looks for adapters. The loader reads its
 * environment when Dawn creates the Vulkan instance (on that instance's first requestAdapter). */
type LoaderEnv = Record<string, string | undefined>;

/**
 * Dawn prints, from native code, "maxDynamic{Uniform,Storage}BuffersPerPipelineLayout
 * artificially reduced from 1000000 to 16" each time a Dawn instance discovers lavapipe (which
 * reports 1000000 for both). Nothing in the device request changes that, so lavapipe is loaded
 * by one instance only: the hardware probe leaves it out when SwiftShader is there to keep the
 * probe from finding no driver at all (an error message of its own), or else the lavapipe it
 * finds is the one used; the SwiftShader instance leaves it out. Loaders older than 1.3.234
 * ignore VK_LOADER_DRIVERS_DISABLE; then the warning only repeats.
 */
const LAVAPIPE_GLOB = '*lvp_icd*';

function withDisabledDrivers(glob: string): LoaderEnv {
  const current = process.env.VK_LOADER_DRIVERS_DISABLE;
  return { VK_LOADER_DRIVERS_DISABLE: current ? `${current},${glob}` : glob };
}

async function tryAdapter(
  dawn: WebGpuModule,
  flags: string[],
  opts: { key?: string; env?: LoaderEnv } = {},
): Promise<{ gpu: GPU; adapter: GPUAdapter | null; error?: string }> {
  const key = `${opts.key ?? ''}\n${flags.join('\n')}`;
  let gpu = dawnInstances.get(key);
  const fresh = !gpu;
  if (!gpu) dawnInstances.set(key, (gpu = dawn.create(flags)));
  const saved: LoaderEnv = {};
  if (fresh && opts.env) {
    for (const [k, v] of Object.entries(opts.env)) {
      saved[k] = process.env[k];
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    return { gpu, adapter };
  } catch (e) {
    // Dawn rejects when an `adapter=` filter matches nothing; its message lists what exists.
    return { gpu, adapter: null, error: (e as Error).message.split('\n')[0] };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function parseChoice(value: string | undefined, from: string): DriverChoice {
  const v = (value ?? 'auto').toLowerCase();
  if ((DRIVER_CHOICES as readonly string[]).includes(v)) return v as DriverChoice;
  throw new NoAdapterError(`${from}='${value}' is not a driver choice; use one of ${DRIVER_CHOICES.join(', ')}`);
}

/**
 * Picks the adapter for this process. Call once: the Vulkan loader reads its environment
 * variables when Dawn first creates an instance.
 */
export async function selectNodeAdapter(requested?: DriverChoice): Promise<AdapterSelection> {
  const choice = requested ? parseChoice(requested, 'driver') : parseChoice(process.env.INCEPT_DRIVER, 'INCEPT_DRIVER');
  process.env.XDG_RUNTIME_DIR ??= tmpdir(); // silences a loader warning on machines without a session

  const dawn = await loadDawn();
  if (process.platform !== 'linux' || choice === 'system') {
    const { gpu, adapter, error } = await tryAdapter(dawn, []);
    if (!adapter) throw new NoAdapterError(`Dawn found no adapter (${error ?? 'requestAdapter returned null'}). ${INSTALL_HINT}`);
    return { gpu, adapter, driver: 'system', reason: 'driver=system: the Vulkan loader chose, as its environment says' };
  }

  const userPinnedIcd = process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES;
  if (userPinnedIcd && choice === 'auto') {
    const { gpu, adapter, error } = await tryAdapter(dawn, []);
    if (!adapter)
      throw new NoAdapterError(
        `no adapter from the Vulkan driver(s) in VK_ICD_FILENAMES/VK_DRIVER_FILES=${userPinnedIcd} (${error ?? 'none'}). Unset it to let the engine search, or ${INSTALL_HINT}`,
      );
    return {
      gpu,
      adapter,
      driver: isSoftwareAdapter(adapter.info) ? 'software (user ICD)' : 'hardware',
      reason: `VK_ICD_FILENAMES/VK_DRIVER_FILES is set (${userPinnedIcd}); using what it names`,
    };
  }

  // The loader finds lavapipe and hardware drivers in its standard folders; SwiftShader lives
  // beside Chromium, so add its manifest to the search rather than replacing the search.
  const swiftshader = firstExisting(SWIFTSHADER_MANIFESTS);
  const lavapipe = firstExisting(LAVAPIPE_MANIFESTS);
  if (swiftshader && !(process.env.VK_ADD_DRIVER_FILES ?? '').includes(swiftshader)) {
    process.env.VK_ADD_DRIVER_FILES = [process.env.VK_ADD_DRIVER_FILES, swiftshader].filter(Boolean).join(':');
  }

  const tried: string[] = [];
  if (choice === 'auto' || choice === 'hardware') {
    // With SwiftShader present the probe still finds a driver when lavapipe is left out.
    const probeEnv = swiftshader ? withDisabledDrivers(LAVAPIPE_GLOB) : undefined;
    const { gpu, adapter, error } = await tryAdapter(dawn, [], { key: 'probe', env: probeEnv });
    if (adapter && !isSoftwareAdapter(adapter.info)) {
      return { gpu, adapter, driver: 'hardware', reason: `hardware adapter found (${adapter.info.vendor} ${adapter.info.description || adapter.info.device})` };
    }
    // The probe loaded lavapipe and found nothing better: use that instance rather than make a
    // second one (each instance that loads lavapipe repeats Dawn's warning).
    const probeMajor = adapter && /llvmpipe|lavapipe/i.test(adapter.info.description) ? mesaMajor(adapter.info) : undefined;
    if (choice === 'auto' && lavapipe && adapter && probeMajor !== undefined && probeMajor >= MIN_MESA_MAJOR) {
      return {
        gpu,
        adapter,
        driver: 'lavapipe',
        reason: `no hardware adapter; lavapipe is the faster software driver (${adapter.info.description}, ${lavapipe})`,
        manifest: lavapipe,
      };
    }
    tried.push(`hardware: ${adapter ? `only software adapters (${adapter.info.description})` : (error ?? 'none found')}`);
    if (choice === 'hardware')
      throw new NoAdapterError(`driver=hardware but no hardware adapter: ${tried.join('; ')}. Use driver=auto to fall back to a software driver.`);
  }

  if (choice === 'auto' || choice === 'lavapipe') {
    if (!lavapipe) {
      tried.push(`lavapipe: no manifest in ${LAVAPIPE_MANIFESTS.join(', ')}`);
    } else {
      const { gpu, adapter, error } = await tryAdapter(dawn, ['adapter=llvmpipe']);
      const major = adapter ? mesaMajor(adapter.info) : undefined;
      if (adapter && (major === undefined || major >= MIN_MESA_MAJOR)) {
        const why = choice === 'lavapipe' ? 'driver=lavapipe requested' : 'no hardware adapter; lavapipe is the faster software driver';
        return { gpu, adapter, driver: 'lavapipe', reason: `${why} (${adapter.info.description}, ${lavapipe})`, manifest: lavapipe };
      }
      tried.push(
        adapter
          ? `lavapipe: Mesa ${major} is older than ${MIN_MESA_MAJOR}`
          : `lavapipe: ${error ?? 'no adapter'} (Mesa older than ${MIN_MESA_MAJOR} gives none)`,
      );
    }
    if (choice === 'lavapipe') throw new NoAdapterError(`driver=lavapipe unavailable: ${tried.join('; ')}. ${INSTALL_HINT}`);
  }

  if (!swiftshader) {
    tried.push(`swiftshader: no manifest in ${SWIFTSHADER_MANIFESTS.join(', ')}`);
  } else {
    const { gpu, adapter, error } = await tryAdapter(dawn, ['adapter=SwiftShader'], { env: withDisabledDrivers(LAVAPIPE_GLOB) });
    if (adapter) {
      const why = choice === 'swiftshader' ? 'driver=swiftshader requested' : 'no hardware adapter and no usable lavapipe';
      return { gpu, adapter, driver: 'swiftshader', reason: `${why} (${adapter.info.description}, ${swiftshader})`, manifest: swiftshader };
    }
    tried.push(`swiftshader: ${error ?? 'no adapter'}`);
  }
  throw new NoAdapterError(`no WebGPU adapter: ${tried.join('; ')}. ${INSTALL_HINT}`);
}
