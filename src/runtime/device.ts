/**
 * One function, `requestGpuDevice`, gives a GPUDevice in Node (Dawn) and in the browser
 * (navigator.gpu), asking for the limits and features the kernels need from what the adapter
 * offers.
 */
import { NoAdapterError } from './errors.js';

/** How Node picks its Vulkan driver (gpu-node.ts); here so the browser-safe device code can name it. */
export const DRIVER_CHOICES = ['auto', 'hardware', 'lavapipe', 'swiftshader', 'system'] as const;
export type DriverChoice = (typeof DRIVER_CHOICES)[number];

export interface AdapterSelection {
  gpu: GPU;
  adapter: GPUAdapter;
  /** 'hardware', 'lavapipe', 'swiftshader', 'browser', 'system', … */
  driver: string;
  /** Why this adapter was chosen, in words, for `incept device`. */
  reason: string;
  /** The Vulkan manifest used, when the engine chose a software driver itself. */
  manifest?: string;
}

export interface DeviceOptions {
  /** Node on Linux only: which Vulkan driver to use (default: env INCEPT_DRIVER, else 'auto'). */
  driver?: DriverChoice;
  /** Features to leave off even when offered (for testing fallbacks, e.g. ['timestamp-query']). */
  disableFeatures?: GPUFeatureName[];
}

export interface AcquiredDevice extends AdapterSelection {
  device: GPUDevice;
  info: GPUAdapterInfo;
  features: Set<string>;
}

/** Features the kernels use when present; none is required. */
const WANTED_FEATURES: GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'];

/** Limits the kernels benefit from; each is raised to what the adapter offers. */
const WANTED_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxUniformBufferBindingSize',
  'maxBindGroups',
] as const;

/** True for CPU rasterisers (SwiftShader, lavapipe, WARP) rather than a real GPU. */
export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  return Boolean(info.isFallbackAdapter) || /swiftshader|llvmpipe|lavapipe|softpipe|warp|software/i.test(text);
}

export function isBrowser(): boolean {
  return typeof window !== 'undefined' && typeof navigator !== 'undefined';
}

async function selectBrowserAdapter(): Promise<AdapterSelection> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    throw new NoAdapterError(
      'navigator.gpu is undefined: WebGPU needs a secure context (https, or http://localhost / ' +
        'http://127.0.0.1, not about:blank or file://) and a browser with WebGPU enabled ' +
        '(Chromium on Linux: --enable-unsafe-webgpu).',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new NoAdapterError(
      'navigator.gpu.requestAdapter() returned null: the browser has WebGPU but no usable adapter ' +
        '(GPU blocklisted, or no software fallback). In Chromium try --enable-unsafe-webgpu and --enable-features=Vulkan.',
    );
  }
  return { gpu, adapter, driver: 'browser', reason: 'navigator.gpu in the browser' };
}

export async function selectAdapter(options: DeviceOptions = {}): Promise<AdapterSelection> {
  if (isBrowser()) return selectBrowserAdapter();
  const { selectNodeAdapter } = await import('./gpu-node.js');
  return selectNodeAdapter(options.driver);
}

/** Adapter → device with every wanted feature the adapter has and its best limits. */
export async function requestGpuDevice(options: DeviceOptions = {}): Promise<AcquiredDevice> {
  const selection = await selectAdapter(options);
  const { adapter } = selection;
  const disabled = new Set<string>(options.disableFeatures ?? []);
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f) && !disabled.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'incept-gpu' });
  return {
    ...selection,
    device,
    info: adapter.info,
    features: new Set(requiredFeatures as string[]),
  };
}
