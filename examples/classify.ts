/**
 * Classifies photos with a model file, in Node.
 *
 *   node classify.js <model file> <image>...
 *
 * The model is a torchvision Inception-v3 state dict as safetensors, an ONNX file or a TF.js
 * layers model.json (the format is detected); make-model.js writes a small one. Images are JPEG
 * or PNG. Prints the top 3 classes of each image and the time per image.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { CIFAR10_CLASSES, createEngine, decodeImage, loadClassifier } from 'incept-gpu';

const [modelPath, ...imagePaths] = process.argv.slice(2);
if (!modelPath || imagePaths.length === 0) {
  console.error('usage: node classify.js <model file> <image>...');
  process.exit(2);
}

const engine = await createEngine();
try {
  // The format is detected from the file; `labels` (one name per class) may be given here too.
  const model = await loadClassifier(engine, { weights: modelPath });
  // A 10-class model is taken to be a CIFAR-10 one; other models' classes show as 'class N'.
  const name = (index: number, label: string): string => (model.numClasses === 10 ? CIFAR10_CLASSES[index]! : label);
  console.log(
    `${model.description}: ${model.parameterCount.toLocaleString('en-US')} parameters, input ${model.inputShape.join('×')}, on ${engine.adapterName}`,
  );
  const images = imagePaths.map((path) => decodeImage(readFileSync(path), path));
  const results = await model.classify(images, { topk: 3 });
  results.forEach((result, i) => {
    const top = result.top.map((c) => `${name(c.index, c.label)} ${(100 * c.probability).toFixed(1)}%`).join(', ');
    console.log(`${basename(imagePaths[i]!)}: ${top} (${result.ms.toFixed(0)} ms)`);
  });
  model.dispose();
} finally {
  engine.destroy();
}
