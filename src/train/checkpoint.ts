/**
 * A training run's checkpoint: `checkpoint.safetensors` (the model's weights and running
 * statistics as `model.<torchvision name>`, the optimizer's state as `optimizer.<name>`) and
 * `checkpoint.json` (configuration, step, loader position, elapsed time), written together and
 * checked to belong together when read (src/io/checkpoint-file.ts).
 */
import { InceptError } from '../runtime/errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { readCheckpoint, writeCheckpoint } from '../io/checkpoint-file.js';
import type { TrainState } from './trainer.js';

const NAME = 'checkpoint';
const VERSION = 1;

export async function writeTrainCheckpoint(dir: string, tensors: Map<string, Tensor>, state: TrainState): Promise<string> {
  const paths = await writeCheckpoint(dir, NAME, { tensors, json: { version: VERSION, ...state } });
  return paths.safetensors;
}

export async function readTrainCheckpoint(dir: string): Promise<{ state: TrainState; tensors: Map<string, Float32Array> }> {
  const saved = await readCheckpoint(dir, NAME);
  const json = saved.json as Partial<TrainState> & { version?: number };
  if (json.version !== VERSION || !json.config || typeof json.step !== 'number' || !json.loader) {
    throw new InceptError(`${dir}/${NAME}.json is not a training checkpoint of this version (version ${String(json.version)}, expected ${VERSION})`);
  }
  const tensors = new Map<string, Float32Array>();
  for (const [name, t] of saved.tensors) {
    if (!(t.data instanceof Float32Array)) throw new InceptError(`${dir}/${NAME}.safetensors: tensor ${name} is ${t.dtype}, a training checkpoint holds F32 only`);
    tensors.set(name, t.data);
  }
  const { version: _v, ...state } = json as TrainState & { version: number };
  return { state, tensors };
}
