/**
 * One function, `requestGpuDevice`, gives a GPUDevice in Node (Dawn) and in the browser
 * (navigator.gpu), asking for the limits and features the kernels need from what the adapter
 * offers.
 */
import { InvalidArgumentError, NoAdapterError } from './errors.js';

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

/** A GPUDevice someone else created and owns (createEngine({ device })): no adapter or GPU
 * object comes with it, and the engine must neither destroy it nor take over its handlers. */
export interface BorrowedDevice {
  device: GPUDevice;
  info: GPUAdapterInfo;
  features: Set<string>;
  driver: string;
  reason: string;
  borrowed: true;
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

/**
 * The least each limit must be for every kernel in kernels/ to run, measured from the kernels
 * (test/device-sharing.test.ts checks these against their reflected WGSL). All but the storage
 * buffer count are within WebGPU's defaults, so a device requested with no limits lacks only
 * that one.
 */
export const REQUIRED_LIMITS = {
  /** batchnorm-backward.wgsl's input_gradient binds 9 storage buffers (the default is 8). */
  maxStorageBuffersPerShaderStage: 9,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 16,
  /** conv2d-asym.wgsl's staged lines and taps: 1152 + 7168 bytes. */
  maxComputeWorkgroupStorageSize: 8320,
  maxBindGroups: 1,
} as const satisfies Partial<Record<(typeof WANTED_LIMITS)[number], number>>;

/** A device fails to meet what the kernels need; `missing` names each limit or feature. */
export class DeviceRequirementsError extends InvalidArgumentError {
  constructor(readonly missing: string[]) {
    super(
      `this GPUDevice cannot run incept-gpu's kernels: ${missing.join('; ')}. Request the device with ` +
        `deviceDescriptorFor(adapter) (or at least requiredLimits: ${JSON.stringify(REQUIRED_LIMITS)}), ` +
        'or let the engine create it (createEngine()) and hand engine.device to the other library.',
    );
  }
}

/** What a device lacks for the kernels, one line each (empty when nothing). */
export function missingRequirements(device: GPUDevice): string[] {
  const limits = device.limits as unknown as Record<string, number | undefined>;
  const missing: string[] = [];
  for (const [name, need] of Object.entries(REQUIRED_LIMITS)) {
    const have = limits[name];
    if (typeof have !== 'number' || have < need) missing.push(`${name} is ${have ?? 'absent'}, the kernels need ${need}`);
  }
  return missing;
}

/**
 * The device descriptor the engine itself requests on `adapter`: every optional feature the
 * kernels use that the adapter has, and the adapter's best limits. Use it to create a device
 * that the engine and other libraries (TF.js, ONNX Runtime Web, a renderer) then share.
 */
export function deviceDescriptorFor(
  adapter: GPUAdapter,
  options: Pick<DeviceOptions, 'disableFeatures'> = {},
): GPUDeviceDescriptor & {
  requiredFeatures: GPUFeatureName[];
  requiredLimits: Record<string, number>;
} {
  const disabled = new Set<string>(options.disableFeatures ?? []);
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f) && !disabled.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  return { requiredFeatures, requiredLimits, label: 'incept-gpu' };
}

/**
 * Checks a device made elsewhere and describes it for the engine. Throws a
 * DeviceRequirementsError listing every limit below what the kernels need; optional features
 * (subgroups, timestamp-query, shader-f16) are used when the device has them.
 */
export function borrowGpuDevice(device: GPUDevice, options: { adapterInfo?: GPUAdapterInfo; disableFeatures?: GPUFeatureName[] } = {}): BorrowedDevice {
  if (typeof device !== 'object' || device === null || typeof (device as Partial<GPUDevice>).createBuffer !== 'function' || !('limits' in device)) {
    throw new InvalidArgumentError(`createEngine: options.device must be a GPUDevice, got ${device === null ? 'null' : typeof device}`);
  }
  const missing = missingRequirements(device);
  if (missing.length > 0) throw new DeviceRequirementsError(missing);
  const disabled = new Set<string>(options.disableFeatures ?? []);
  const features = new Set<string>(WANTED_FEATURES.filter((f) => device.features.has(f) && !disabled.has(f)));
  // device.adapterInfo is recent (Chrome 128, Dawn); older browsers give no way from a device
  // to its adapter's description.
  const info =
    options.adapterInfo ??
    (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo ??
    ({ vendor: '', architecture: '', device: '', description: 'unknown adapter (shared device)' } as GPUAdapterInfo);
  return {
    device,
    info,
    features,
    driver: isSoftwareAdapter(info) ? 'software (shared device)' : 'shared device',
    reason: 'a GPUDevice passed to createEngine({ device }); its owner creates and destroys it',
    borrowed: true,
  };
}

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
  const descriptor = deviceDescriptorFor(adapter, options);
  const { requiredFeatures } = descriptor;
  const device = await adapter.requestDevice(descriptor);
  return {
    ...selection,
    device,
    info: adapter.info,
    features: new Set(requiredFeatures as string[]),
  };
}
