/** One engine per test file, with outputs poisoned so unwritten elements fail comparisons.
 * The driver follows INCEPT_DRIVER (auto by default). */
import { createEngine, type Engine, type EngineOptions } from '../../src/runtime/engine.js';

export async function testEngine(options: EngineOptions = {}): Promise<Engine> {
  return createEngine({ poisonOutputs: true, ...options });
}
