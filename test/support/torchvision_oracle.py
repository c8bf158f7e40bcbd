"""torchvision's Inception-v3 as an oracle for test/torchvision-roundtrip.test.ts.

Run with Debian's python3 and its python3-torchvision (scripts/setup.sh --test installs them).
Files go both ways as safetensors, written and read here in a few lines (an 8-byte little-endian
header length, a JSON header, then the raw little-endian bytes), since Debian has no
python3-safetensors package.

  check                          prints {"python", "torch", "torchvision"} as JSON
  run MODEL INPUTS OUT           loads MODEL (a state dict) strictly into torchvision's
                                 inception_v3 (classes from fc.weight, the aux head if the file has
                                 one, transform_input=False), runs INPUTS' "x" (NCHW) in eval mode,
                                 writes "logits" and "logits_f64" (the same in float64) to OUT
  make SEED MODEL_OUT MODEL_TI_OUT DATA_OUT
                                 a torchvision inception_v3 with torchvision's own seeded random
                                 initialisation and the aux head, BatchNorm statistics from a random
                                 batch, for transform_input=False (state dict to MODEL_OUT) and
                                 True (MODEL_TI_OUT: the same weights, statistics gathered with the
                                 flag on); to DATA_OUT random "pixels" in [0, 1] (NCHW), and for
                                 those pixels ImageNet-normalised, "logits" of the first model and
                                 "logits_transform_input" of the second (and each in float64, _f64)
  photo MODEL MODEL_TI IMAGE OUT   a photo through each library's published evaluation transform, into
                                 the models `make` wrote: torchvision's (Inception_V3_Weights.
                                 IMAGENET1K_V1.transforms(): Resize(342, bilinear, antialias),
                                 CenterCrop(299), ImageNet mean/std) into MODEL_TI with
                                 transform_input=True ("logits_tv", as torchvision's pretrained
                                 model) and into MODEL with transform_input=False ("logits_plain");
                                 timm's for inception_v3.tv_in1k (Resize(int(299 / 0.875) = 341,
                                 bicubic), CenterCrop(299), mean = std = 0.5) into MODEL_TI as timm's
                                 InceptionV3 runs it, without transform_input ("logits_timm"); each
                                 in float64 too (_f64), and the 299x299 8-bit crops each transform
                                 normalised ("crop_tv", "crop_timm", HWC uint8)
"""
import copy
import json
import struct
import sys

import numpy as np
import torch
import torchvision
from torchvision.models import inception_v3

# ImageNet's mean and std of x / 255, as torchvision's transforms normalise.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INPUT = 299
BATCH = 2

TO_NUMPY = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8}
FROM_NUMPY = {np.dtype(v): k for k, v in TO_NUMPY.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = memoryview(data)[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = np.dtype(TO_NUMPY[info["dtype"]]).newbyteorder("<")
        array = np.frombuffer(body[begin:end], dtype=dtype).reshape(info["shape"])
        out[name] = torch.from_numpy(array.astype(array.dtype.newbyteorder("="), copy=True))
    return out


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        array = t.detach().cpu().contiguous().numpy()
        raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": FROM_NUMPY[array.dtype], "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # the tensors start 8-byte aligned, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def model_for(state, transform_input):
    """torchvision's inception_v3 shaped as the state dict says, weights loaded strictly."""
    num_classes = state["fc.weight"].shape[0]
    aux = any(k.startswith("AuxLogits.") for k in state)
    model = inception_v3(weights=None, num_classes=num_classes, aux_logits=aux, transform_input=transform_input, init_weights=False)
    model.load_state_dict(state, strict=True)
    return model.eval()


def normalise(pixels):
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (pixels - mean) / std


def logits(model, x, key):
    """The model's float32 logits (what torchvision users get) under `key`, and the same
    network's in float64 under `key`_f64: how far float32 itself is from exact on this model."""
    with torch.no_grad():
        return {key: model(x), f"{key}_f64": copy.deepcopy(model).double()(x.double()).float()}


def run(model_path, inputs_path, out_path):
    model = model_for(read_safetensors(model_path), transform_input=False)
    write_safetensors(out_path, logits(model, read_safetensors(inputs_path)["x"], "logits"))


def calibrate(model, batch):
    """Running statistics of one random batch (momentum None: the plain average of the batches
    seen), so activations keep their scale through 94 layers in eval mode."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(batch)
    return model.eval()


def make(seed, model_path, model_ti_path, data_path):
    torch.manual_seed(seed)
    base = inception_v3(weights=None, aux_logits=True, transform_input=False, init_weights=True)
    calibration = normalise(torch.rand(4, 3, INPUT, INPUT))
    pixels = torch.rand(BATCH, 3, INPUT, INPUT)
    x = normalise(pixels)
    data = {"pixels": pixels}
    # One set of weights, two sets of BatchNorm statistics: each gathered the way the model will
    # see its input (with transform_input=True, like the pretrained IMAGENET1K_V1 weights, the
    # layers see (p - 0.5) / 0.5), so both models run in a realistic range.
    for flag, path, key in ((False, model_path, "logits"), (True, model_ti_path, "logits_transform_input")):
        model = copy.deepcopy(base)
        model.transform_input = flag
        state = calibrate(model, calibration).state_dict()
        write_safetensors(path, state)
        data.update(logits(model_for(state, transform_input=flag), x, key))
    write_safetensors(data_path, data)


def photo(model_path, model_ti_path, image_path, out_path):
    from PIL import Image
    from torchvision import transforms as T
    from torchvision.models import Inception_V3_Weights

    image = Image.open(image_path).convert("RGB")
    plain = model_for(read_safetensors(model_path), transform_input=False)
    state_ti = read_safetensors(model_ti_path)
    tv_transform = Inception_V3_Weights.IMAGENET1K_V1.transforms()
    x_tv = tv_transform(image).unsqueeze(0)
    # timm's create_transform(**resolve_data_config(model=inception_v3.tv_in1k)), eval: crop_pct
    # 0.875, bicubic, IMAGENET_INCEPTION_MEAN/STD (0.5), the same steps through torchvision.
    size = int(INPUT / 0.875)
    timm_geometry = T.Compose([T.Resize(size, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(INPUT)])
    timm_transform = T.Compose([timm_geometry, T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    x_timm = timm_transform(image).unsqueeze(0)
    tv_geometry = T.Compose([T.Resize(342, interpolation=T.InterpolationMode.BILINEAR, antialias=True), T.CenterCrop(INPUT)])
    out = {
        "crop_tv": torch.from_numpy(np.asarray(tv_geometry(image), dtype=np.uint8).copy()),
        "crop_timm": torch.from_numpy(np.asarray(timm_geometry(image), dtype=np.uint8).copy()),
    }
    out.update(logits(model_for(state_ti, transform_input=True), x_tv, "logits_tv"))
    out.update(logits(plain, x_tv, "logits_plain"))
    out.update(logits(model_for(state_ti, transform_input=False), x_timm, "logits_timm"))
    write_safetensors(out_path, out)


def main(argv):
    if argv[:1] == ["check"]:
        print(json.dumps({"python": sys.version.split()[0], "torch": torch.__version__, "torchvision": torchvision.__version__}))
    elif argv[:1] == ["run"] and len(argv) == 4:
        run(*argv[1:])
    elif argv[:1] == ["make"] and len(argv) == 5:
        make(int(argv[1]), *argv[2:])
    elif argv[:1] == ["photo"] and len(argv) == 5:
        photo(*argv[1:])
    else:
        sys.exit("usage: torchvision_oracle.py check | run MODEL INPUTS OUT | make SEED MODEL_OUT MODEL_TI_OUT DATA_OUT | photo MODEL MODEL_TI IMAGE OUT")


if __name__ == "__main__":
    main(sys.argv[1:])
