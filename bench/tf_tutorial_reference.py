#!/usr/bin/python3
"""Independent PyTorch reimplementation of the TensorFlow "Neural style transfer" tutorial.

https://www.tensorflow.org/tutorials/generative/style_transfer - the optimization loop of its
"Run gradient descent" / "Total variation loss" sections, with VGG19 read from a Keras notop .h5
file (the real one or scripts/make-vgg19-h5.ts's random one). CPU (or --device), float32,
deterministic. It is the reference the engine's `tf-tutorial` preset is compared against; every
tutorial detail it reproduces is listed in docs/REFERENCE.md.

  /usr/bin/python3 bench/tf_tutorial_reference.py --weights W.h5 --content C.png --style S.jpg \
      [--size 256] [--iters 10] [--out final.png]

stdout: one JSON line per iteration, {"iter","loss","style","content","tv","ms"}, the weighted
loss terms, in the convention of `npm run render -- --json` (server/cli/run.ts):
  iter t  the losses of the image after t updates (t = 0: the initial image = the content image),
          which is the loss the tutorial's train_step computes in its (t+1)-th call, BEFORE that
          update. "ms" is the wall time of that call (forward, backward, Adam update, clip); the
          last line (t = --iters) is a plain evaluation of the final image.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_vgg19 import KerasVGG19, load_keras_vgg19_h5  # noqa: E402

CONTENT_LAYERS = ["block5_conv2"]
STYLE_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
STYLE_WEIGHT = 1e-2
CONTENT_WEIGHT = 1e4
TOTAL_VARIATION_WEIGHT = 30
ADAM_LR, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON = 0.02, 0.99, 0.999, 1e-1

F32 = np.float32


# ---------------------------------------------------------------------------------------------
# Image loading exactly as the tutorial's load_img():
#   img = tf.image.decode_image(img, channels=3)
#   img = tf.image.convert_image_dtype(img, tf.float32)      # uint8 * (1/255), float32
#   shape = tf.cast(tf.shape(img)[:-1], tf.float32)
#   scale = max_dim / max(shape)                              # float32 division
#   new_shape = tf.cast(shape * scale, tf.int32)              # float32 product, truncated
#   img = tf.image.resize(img, new_shape)                     # bilinear, half-pixel, no antialias
# ---------------------------------------------------------------------------------------------

def decode_image(path: str) -> np.ndarray:
    """uint8 HxWx3 RGB (PIL/libjpeg(-turbo), like tf.image.decode_image(channels=3))."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def convert_image_dtype(img_u8: np.ndarray) -> np.ndarray:
    """tf.image.convert_image_dtype(uint8 -> float32): cast, then multiply by 1/255 (not divide)."""
    return img_u8.astype(F32) * F32(1.0 / 255.0)


def tutorial_shape(height: int, width: int, max_dim: int) -> tuple[int, int]:
    """New (h, w) with the long side max_dim, in float32 and truncated like the tutorial."""
    shape = np.array([height, width], dtype=F32)
    scale = F32(max_dim) / shape.max()
    new = (shape * scale).astype(np.int32)  # astype truncates toward zero, like tf.cast
    return int(new[0]), int(new[1])


def _interp_weights(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TF's compute_interpolation_weights with HalfPixelScaler, in float32."""
    scale = F32(in_size) / F32(out_size)  # CalculateResizeScale, align_corners=False
    pos = (np.arange(out_size, dtype=F32) + F32(0.5)) * scale - F32(0.5)
    floor = np.floor(pos)
    lower = np.maximum(floor, 0).astype(np.int64)
    upper = np.minimum(np.ceil(pos), in_size - 1).astype(np.int64)
    lerp = (pos - floor).astype(F32)
    return lower, upper, lerp


def resize_bilinear(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """tf.image.resize(img, [out_h, out_w]) with the defaults (bilinear, antialias=False,
    half_pixel_centers=True), float32 in and out. Same arithmetic order as TF's
    ResizeBilinearOp: top = tl + (tr - tl) * xl; bottom = bl + (br - bl) * xl;
    out = top + (bottom - top) * yl."""
    in_h, in_w = img.shape[:2]
    ylo, yhi, yl = _interp_weights(out_h, in_h)
    xlo, xhi, xl = _interp_weights(out_w, in_w)
    xl = xl[None, :, None]
    yl = yl[:, None, None]
    tl, tr = img[ylo][:, xlo], img[ylo][:, xhi]
    bl, br = img[yhi][:, xlo], img[yhi][:, xhi]
    top = tl + (tr - tl) * xl
    bottom = bl + (br - bl) * xl
    return (top + (bottom - top) * yl).astype(F32)


def load_img(path: str, max_dim: int) -> torch.Tensor:
    """The tutorial's load_img, returning NCHW float32 RGB in [0, 1]."""
    img = convert_image_dtype(decode_image(path))
    h, w = tutorial_shape(img.shape[0], img.shape[1], max_dim)
    img = resize_bilinear(img, h, w)
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]


# ---------------------------------------------------------------------------------------------
# Model and losses
# ---------------------------------------------------------------------------------------------

def gram_matrix(feat: torch.Tensor) -> torch.Tensor:
    """einsum('bijc,bijd->bcd') / (H*W) on an NCHW tensor."""
    b, c, h, w = feat.shape
    f = feat.reshape(b, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / float(h * w)


class StyleContentModel:
    """The tutorial's StyleContentModel: [0,1] input -> x*255 -> caffe preprocessing -> VGG19;
    style outputs as Gram matrices."""

    def __init__(self, vgg: KerasVGG19):
        self.vgg = vgg

    def __call__(self, image01: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        feats = self.vgg.features(image01 * 255.0, STYLE_LAYERS + CONTENT_LAYERS)
        return [gram_matrix(feats[l]) for l in STYLE_LAYERS], [feats[l] for l in CONTENT_LAYERS]


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """tf.image.total_variation for one image: sum of absolute differences of vertical and
    horizontal neighbours over all channels."""
    dy = x[:, :, 1:, :] - x[:, :, :-1, :]
    dx = x[:, :, :, 1:] - x[:, :, :, :-1]
    return dy.abs().sum() + dx.abs().sum()


def weighted_losses(model, image, style_targets, content_targets) -> dict[str, torch.Tensor]:
    style_out, content_out = model(image)
    style = torch.stack([((s - t) ** 2).mean() for s, t in zip(style_out, style_targets)]).sum()
    style = style * (STYLE_WEIGHT / len(STYLE_LAYERS))
    content = torch.stack([((c - t) ** 2).mean() for c, t in zip(content_out, content_targets)]).sum()
    content = content * (CONTENT_WEIGHT / len(CONTENT_LAYERS))
    tv = TOTAL_VARIATION_WEIGHT * total_variation(image)
    return {"style": style, "content": content, "tv": tv, "loss": style + content + tv}


class KerasAdam:
    """tf.keras.optimizers.Adam (TF 2.x, amsgrad=False) for one variable:
        alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)
        m += (g - m) * (1 - b1);  v += (g^2 - v) * (1 - b2)
        x -= m * alpha / (sqrt(v) + eps)          ("epsilon hat": eps is not bias-corrected)
    """

    def __init__(self, x: torch.Tensor, lr=ADAM_LR, beta1=ADAM_BETA1, beta2=ADAM_BETA2, eps=ADAM_EPSILON):
        self.lr, self.b1, self.b2, self.eps = lr, beta1, beta2, eps
        self.m = torch.zeros_like(x)
        self.v = torch.zeros_like(x)
        self.t = 0

    @torch.no_grad()
    def step(self, x: torch.Tensor, g: torch.Tensor) -> None:
        self.t += 1
        # Keras computes these scalars in float32 tensors.
        b1t = torch.tensor(self.b1, dtype=torch.float32) ** self.t
        b2t = torch.tensor(self.b2, dtype=torch.float32) ** self.t
        alpha = torch.tensor(self.lr, dtype=torch.float32) * torch.sqrt(1 - b2t) / (1 - b1t)
        self.m.add_((g - self.m) * (1 - self.b1))
        self.v.add_((g * g - self.v) * (1 - self.b2))
        x.sub_((self.m * alpha) / (self.v.sqrt() + self.eps))


def run(args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = StyleContentModel(KerasVGG19(load_keras_vgg19_h5(args.weights), device=args.device))
    content_image = load_img(args.content, args.size).to(device)
    style_image = load_img(args.style, args.size).to(device)
    print(f"content {tuple(content_image.shape[2:])} style {tuple(style_image.shape[2:])} (h, w)", file=sys.stderr)
    with torch.no_grad():
        style_targets = model(style_image)[0]
        content_targets = model(content_image)[1]
    image = content_image.clone().requires_grad_(True)  # init = content
    opt = KerasAdam(image)

    for it in range(args.iters + 1):
        t0 = time.perf_counter()
        if it < args.iters:  # the tutorial's train_step: loss, gradient, update, clip
            losses = weighted_losses(model, image, style_targets, content_targets)
            (grad,) = torch.autograd.grad(losses["loss"], image)
            opt.step(image.data, grad)
            with torch.no_grad():
                image.clamp_(0.0, 1.0)  # clip_0_1 after every step
        else:  # score the final image
            with torch.no_grad():
                losses = weighted_losses(model, image, style_targets, content_targets)
        line = {"iter": it, **{k: float(v) for k, v in losses.items()}, "ms": round((time.perf_counter() - t0) * 1000, 2)}
        print(json.dumps({k: line[k] for k in ("iter", "loss", "style", "content", "tv", "ms")}), flush=True)
    if args.out:
        from PIL import Image

        # tensor_to_image: x*255 cast to uint8 (truncation).
        arr = (image.detach()[0].permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)
        Image.fromarray(arr).save(args.out)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", required=True, help="Keras VGG19 notop .h5 file")
    p.add_argument("--content", required=True)
    p.add_argument("--style", required=True)
    p.add_argument("--size", type=int, default=256, help="long side of both images (tutorial's max_dim; default 256)")
    p.add_argument("--iters", type=int, default=10, help="Adam steps (default 10)")
    p.add_argument("--out", help="save the final image (PNG)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.size < 16:
        p.error("--size must be at least 16 (VGG19 pools 4 times before block5)")
    if args.iters < 0:
        p.error("--iters must be >= 0")
    for f in (args.weights, args.content, args.style):
        if not os.path.isfile(f):
            p.error(f"no such file: {f}")
    run(args)


if __name__ == "__main__":
    main()
