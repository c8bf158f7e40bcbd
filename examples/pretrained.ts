/**
 * Classifies a photo with a torchvision or timm Inception-v3 state dict, saying which input
 * convention (the normalisation a state dict does not record) it used.
 *
 *   node pretrained.js <model.safetensors> <image> [inception | imagenet]
 *
 * torchvision's pretrained `inception_v3(weights='IMAGENET1K_V1')` was built with
 * transform_input=True: it takes (x/255 − 0.5) / 0.5, the 'inception' convention, which is also
 * what timm's inception_v3.tv_in1k / tf_in1k weights take and loadClassifier's default for an
 * ImageNet Inception-v3 file. A model built with transform_input=False (trained from scratch, or
 * timm's gluon_in1k) takes ImageNet's mean/std: pass 'imagenet'. To save torchvision's weights:
 *
 *   from safetensors.torch import save_file
 *   save_file(torchvision.models.inception_v3(weights='IMAGENET1K_V1').state_dict(), 'inception_v3.safetensors')
 *
 * make-model.js writes a small untrained file (the CIFAR-10 variant, whose default is 'imagenet').
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { CIFAR10_CLASSES, createEngine, decodeImage, INPUT_CONVENTIONS, loadClassifier, type InputConvention } from 'incept-gpu';

const [modelPath, imagePath, convention] = process.argv.slice(2);
if (!modelPath || !imagePath || (convention !== undefined && !Object.hasOwn(INPUT_CONVENTIONS, convention))) {
  console.error('usage: node pretrained.js <model.safetensors> <image> [inception | imagenet]');
  process.exit(2);
}

const engine = await createEngine();
try {
  const model = await loadClassifier(engine, {
    weights: modelPath,
    format: 'torchvision',
    // Absent: the file's default (see the comment above).
    ...(convention ? { inputConvention: convention as InputConvention } : {}),
  });
  try {
    console.log(`${model.description}, ${model.numClasses} classes, on ${engine.adapterName}`);
    const { mean, std } = model.inputConvention === 'custom' ? { mean: [], std: [] } : INPUT_CONVENTIONS[model.inputConvention];
    console.log(`input convention: ${model.inputConvention} (mean ${mean.join(', ')}, std ${std.join(', ')} of x/255), ${model.inputConventionReason}`);
    const result = await model.classify(decodeImage(readFileSync(imagePath), imagePath), { topk: 3 });
    const name = (index: number, label: string): string => (model.numClasses === 10 ? CIFAR10_CLASSES[index]! : label);
    console.log(`${basename(imagePath)}: ${result.top.map((c) => `${name(c.index, c.label)} ${(100 * c.probability).toFixed(1)}%`).join(', ')}`);
  } finally {
    model.dispose();
  }
} finally {
  engine.destroy();
}
