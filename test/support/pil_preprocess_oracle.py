"""PIL and torchvision as the oracle of the photo path, for test/preprocess-torchvision.test.ts.

Run with Debian's python3 (its python3-torchvision and python3-pil). Pixels go both ways as raw
8-bit RGB files (height × width × 3 bytes, row-major), sizes in the JSON.

  check                 prints {"python", "torch", "torchvision", "pil", "libjpeg_turbo"} as JSON
  generate DIR SEED     writes test images to DIR (JPEGs 4:2:0, 4:2:2, 4:4:4, progressive and
                        grayscale; PNGs RGB, palette and RGBA; odd sizes, portrait and landscape,
                        small images that the resize enlarges) made from smooth random fields
                        with sharp colour edges; prints their names as a JSON list
  run JOBS              runs the jobs of the JSON file JOBS, a list of
                          {"kind": "decode", "file", "out"}: Image.open(file).convert('RGB');
                          {"kind": "transform", "file", "resize", "crop", "interpolation", "out"}:
                            torchvision's eval transform up to the normalisation: PIL decode,
                            Resize(resize, interpolation, antialias=True), CenterCrop(crop),
                            ToTensor, then × 255 back to bytes (exact: ToTensor divides by 255);
                          {"kind": "resize", "rgb", "height", "width", "out_height", "out_width",
                           "interpolation", "out"}: PIL's Image.resize of raw RGB bytes;
                        and prints [{"height", "width"}] of each output as JSON
"""
import json
import os
import sys

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image, features
from torchvision import transforms
from torchvision.transforms import InterpolationMode

MODES = {"bilinear": (InterpolationMode.BILINEAR, Image.BILINEAR), "bicubic": (InterpolationMode.BICUBIC, Image.BICUBIC)}


def field(rng, height, width):
    """A smooth random RGB field with a few hard-edged coloured shapes (chroma edges are where
    decoders differ), as uint8."""
    coarse = rng.random((max(height // 16, 2), max(width // 16, 2), 3))
    img = np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize((width, height), Image.BICUBIC)).astype(np.float64)
    yy, xx = np.mgrid[0:height, 0:width]
    for _ in range(6):
        cy, cx, r = rng.random() * height, rng.random() * width, (0.05 + 0.2 * rng.random()) * min(height, width)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.integers(0, 256, 3)
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def generate(directory, seed):
    rng = np.random.default_rng(seed)
    names = []

    def save(name, image, **kwargs):
        image.save(os.path.join(directory, name), **kwargs)
        names.append(name)

    # (height, width): landscape, portrait, odd sizes, square, small (enlarged to 342), wide.
    for i, (h, w) in enumerate([(375, 500), (501, 333), (347, 519), (400, 400), (123, 97), (61, 250)]):
        rgb = Image.fromarray(field(rng, h, w))
        save(f"q{i}-420.jpg", rgb, quality=int(rng.integers(70, 96)), subsampling=2)
        save(f"q{i}-444.jpg", rgb, quality=int(rng.integers(70, 96)), subsampling=0)
        if i % 2 == 0:
            save(f"q{i}-422.jpg", rgb, quality=85, subsampling=1)
            save(f"q{i}-progressive.jpg", rgb, quality=80, subsampling=2, progressive=True)
            save(f"q{i}.png", rgb)
        else:
            save(f"q{i}-gray.jpg", rgb.convert("L"), quality=90)
            save(f"q{i}-palette.png", rgb.convert("P", palette=Image.ADAPTIVE, colors=64))
            rgba = np.dstack([np.asarray(rgb), rng.integers(0, 256, (h, w), dtype=np.uint8)])
            save(f"q{i}-rgba.png", Image.fromarray(rgba, "RGBA"))
    print(json.dumps(names))


def read_rgb(path, height, width):
    return np.fromfile(path, dtype=np.uint8).reshape(height, width, 3)


def write_rgb(path, array):
    np.ascontiguousarray(array, dtype=np.uint8).tofile(path)
    return {"height": int(array.shape[0]), "width": int(array.shape[1])}


def run(jobs_path):
    with open(jobs_path) as f:
        jobs = json.load(f)
    results = []
    for job in jobs:
        kind = job["kind"]
        if kind == "decode":
            with Image.open(job["file"]) as im:
                out = np.asarray(im.convert("RGB"))
        elif kind == "transform":
            mode = MODES[job["interpolation"]][0]
            pipeline = transforms.Compose(
                [transforms.Resize(job["resize"], interpolation=mode, antialias=True), transforms.CenterCrop(job["crop"]), transforms.ToTensor()]
            )
            with Image.open(job["file"]) as im:
                tensor = pipeline(im.convert("RGB"))
            out = torch.round(tensor * 255).to(torch.uint8).permute(1, 2, 0).numpy()
        elif kind == "resize":
            image = Image.fromarray(read_rgb(job["rgb"], job["height"], job["width"]), "RGB")
            out = np.asarray(image.resize((job["out_width"], job["out_height"]), MODES[job["interpolation"]][1]))
        else:
            raise ValueError(f"unknown job kind {kind!r}")
        results.append(write_rgb(job["out"], out))
    print(json.dumps(results))


def main(argv):
    if argv[0] == "check":
        info = {"python": sys.version.split()[0], "torch": torch.__version__, "torchvision": torchvision.__version__, "pil": PIL.__version__}
        info["libjpeg_turbo"] = bool(features.check_feature("libjpeg_turbo"))
        print(json.dumps(info))
    elif argv[0] == "generate":
        generate(argv[1], int(argv[2]))
    elif argv[0] == "run":
        run(argv[1])
    else:
        raise SystemExit(f"unknown command {argv[0]!r}; see the module docstring")


if __name__ == "__main__":
    main(sys.argv[1:])
