#!/usr/bin/python3
"""Times one Gatys et al. (2015) optimization step of VGG19 in PyTorch: the baseline our speed
goals are ratios against ("engine ms/step ÷ PyTorch ms/step on the same machine").

One step = forward from the image up to block5_conv1 (conv5_1), content loss on block4_conv2
(conv4_2), Gram style losses on block1_conv1..block5_conv1, backward to the image, and an Adam
update of the image. Weights are random (He-normal) unless --weights gives a Keras notop .h5
file; they do not change the cost.

  /usr/bin/python3 bench/torch_gatys_step.py [--sizes 128,256,512] [--device cpu|cuda]
      [--runs 5] [--warmup 2] [--threads N] [--weights W.h5] [--tf32 off|on]

--tf32 (CUDA only) sets torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
explicitly: "off" is the fp32 baseline (cuDNN in full fp32), "on" lets convolutions and matmuls
use TF32 tensor cores. Default: off, so results do not depend on the torch version's default.

stdout: one JSON line per size, e.g.
  {"framework":"pytorch","device":"cpu","size":256,"ms":812.4,"torch":"1.13.1","threads":2,...}
"ms" is the median wall time of --runs timed steps after --warmup untimed ones ("min_ms" the
fastest); "cpu_ms" the median process CPU time (all threads) of a step, which other jobs on a
shared machine barely change. The image is square.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

# Idle OpenMP workers sleep instead of spinning. On an idle machine this costs nothing
# measurable; on a shared one (like our 2-core box) spinning threads starve each other and a
# step can take 5x longer. Set OMP_WAIT_POLICY=ACTIVE to measure stock behaviour.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_vgg19 import KerasVGG19, load_keras_vgg19_h5, random_vgg19_weights  # noqa: E402

CONTENT_LAYER = "block4_conv2"
STYLE_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]


def gram(feat: torch.Tensor) -> torch.Tensor:
    b, c, h, w = feat.shape
    f = feat.reshape(b, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / float(c * h * w)


def time_size(vgg: KerasVGG19, size: int, runs: int, warmup: int, device: torch.device) -> tuple[list[float], list[float]]:
    """Wall-clock and process-CPU milliseconds of each timed step."""
    g = torch.Generator().manual_seed(size)
    content = (torch.rand(1, 3, size, size, generator=g) * 255).to(device)
    style = (torch.rand(1, 3, size, size, generator=g) * 255).to(device)
    layers = STYLE_LAYERS + [CONTENT_LAYER]
    with torch.no_grad():
        content_target = vgg.features(content, [CONTENT_LAYER])[CONTENT_LAYER]
        style_feats = vgg.features(style, STYLE_LAYERS)
        style_targets = {l: gram(style_feats[l]) for l in STYLE_LAYERS}
    image = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([image], lr=1.0)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        feats = vgg.features(image, layers)
        loss = ((feats[CONTENT_LAYER] - content_target) ** 2).mean()
        for l in STYLE_LAYERS:
            loss = loss + 1e3 * ((gram(feats[l]) - style_targets[l]) ** 2).sum()
        loss.backward()
        opt.step()
        return float(loss)  # forces completion (also on CUDA)

    times, cpu = [], []
    for i in range(warmup + runs):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
    return times, cpu


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="128,256,512", help="comma-separated square sizes (default 128,256,512)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads (default: all cores)")
    p.add_argument("--weights", help="Keras VGG19 notop .h5 (default: random weights)")
    p.add_argument("--tf32", choices=["off", "on"], default="off", help="CUDA: allow TF32 tensor cores in cuDNN and matmuls (default off)")
    args = p.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes must be integers, got {args.sizes!r}")
    if not sizes or min(sizes) < 32:
        p.error("--sizes must be at least 32 (conv5_1 needs 4 poolings)")
    if args.runs < 1 or args.warmup < 0 or args.threads < 1:
        p.error("--runs >= 1, --warmup >= 0 and --threads >= 1 are required")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda but torch.cuda.is_available() is False")
    torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32 == "on"
    torch.backends.cudnn.allow_tf32 = args.tf32 == "on"
    weights = load_keras_vgg19_h5(args.weights) if args.weights else random_vgg19_weights(0)
    vgg = KerasVGG19(weights, device=str(device))
    for size in sizes:
        times, cpu = time_size(vgg, size, args.runs, args.warmup, device)
        result = {
            "framework": "pytorch",
            "device": device.type,
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "size": size,
            "ms": round(statistics.median(times), 2),
            "min_ms": round(min(times), 2),
            # CPU time of all threads: barely affected by other jobs on a shared machine; with one
            # thread it estimates the wall time on an idle machine.
            "cpu_ms": round(statistics.median(cpu), 2),
            "runs": len(times),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "weights": os.path.basename(args.weights) if args.weights else "random",
            "tf32": args.tf32 if device.type == "cuda" else None,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "loadavg_1min": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
