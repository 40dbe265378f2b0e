"""VGG19 feature extractor in PyTorch that reads Keras `*_notop.h5` weight files.

Shared by bench/tf_tutorial_reference.py and bench/torch_gatys_step.py. Written independently of
the TypeScript engine so it can serve as a reference for it.

Keras conventions reproduced here:
  * weights file: root attribute `layer_names`; per layer group an attribute `weight_names`
    listing dataset paths relative to the group (Keras 1 files: `block1_conv1_W_1:0`,
    `block1_conv1_b_1:0`; Keras 2 files: `block1_conv1/kernel:0`, `block1_conv1/bias:0`).
    Kernels are HWIO ([3, 3, in, out]); PyTorch wants OIHW, so they are permuted (3, 2, 0, 1).
  * Conv2D 3x3, stride 1, padding 'same' (= 1 pixel of zeros each side), ReLU.
  * MaxPooling2D 2x2, stride 2, padding 'valid' (odd sizes are floored, like PyTorch's default).
  * `preprocess_input` mode 'caffe': RGB -> BGR, then minus the ImageNet BGR mean; the input is
    expected in [0, 255].
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# Block layout of VGG19: (number of convs, output channels).
VGG19_BLOCKS = [(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)]

#: Keras layer names in forward order (convs and pools), without the input layer.
VGG19_LAYERS: list[str] = []
for _b, (_n, _ch) in enumerate(VGG19_BLOCKS, start=1):
    VGG19_LAYERS += [f"block{_b}_conv{_c}" for _c in range(1, _n + 1)] + [f"block{_b}_pool"]

#: ImageNet channel means in BGR order, as in keras.applications.imagenet_utils.
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


def conv_channels() -> dict[str, tuple[int, int]]:
    """(in_channels, out_channels) of each conv layer."""
    out, cin = {}, 3
    for b, (n, ch) in enumerate(VGG19_BLOCKS, start=1):
        for c in range(1, n + 1):
            out[f"block{b}_conv{c}"] = (cin, ch)
            cin = ch
    return out


def _decode(names) -> list[str]:
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in names]


def load_keras_vgg19_h5(path: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Reads conv kernels (HWIO) and biases from a Keras VGG19 notop .h5 file.

    Follows `weight_names` like Keras' own `load_weights_from_hdf5_group`, so both the Keras 1
    and Keras 2 naming of datasets work. Raises ValueError on missing layers or wrong shapes.
    """
    import h5py

    want = conv_channels()
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with h5py.File(path, "r") as f:
        if "layer_names" not in f.attrs and "model_weights" in f:
            f = f["model_weights"]
        layer_names = _decode(f.attrs["layer_names"])
        for name, (cin, cout) in want.items():
            if name not in layer_names:
                raise ValueError(f"{path}: layer {name} missing from layer_names")
            g = f[name]
            wn = _decode(g.attrs["weight_names"])
            if len(wn) != 2:
                raise ValueError(f"{path}: {name} has {len(wn)} weights, expected kernel and bias")
            kernel = np.asarray(g[wn[0]], dtype=np.float32)
            bias = np.asarray(g[wn[1]], dtype=np.float32)
            if kernel.shape != (3, 3, cin, cout) or bias.shape != (cout,):
                raise ValueError(f"{path}: {name} has shapes {kernel.shape}, {bias.shape}; expected (3, 3, {cin}, {cout}), ({cout},)")
            out[name] = (kernel, bias)
    return out


def random_vgg19_weights(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """He-normal random weights (HWIO kernels), for speed benchmarks without a weights file."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, (cin, cout) in conv_channels().items():
        k = rng.standard_normal((3, 3, cin, cout), dtype=np.float32) * np.float32(np.sqrt(2.0 / (9 * cin)))
        b = rng.standard_normal((cout,), dtype=np.float32) * np.float32(0.01)
        out[name] = (k, b)
    return out


class KerasVGG19:
    """VGG19 up to any layer; `features(x)` takes NCHW float32 RGB in [0, 255].

    Not an nn.Module on purpose: the weights are constants (requires_grad False) and only the
    input image is optimized.
    """

    def __init__(self, weights: dict[str, tuple[np.ndarray, np.ndarray]], device: str = "cpu"):
        self.device = torch.device(device)
        self.params: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for name, (k, b) in weights.items():
            w = torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1))).to(self.device)
            self.params[name] = (w, torch.from_numpy(b.copy()).to(self.device))
        self.mean = torch.tensor(CAFFE_BGR_MEAN, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)

    def preprocess(self, x255: torch.Tensor) -> torch.Tensor:
        """Keras `vgg19.preprocess_input` ('caffe'): RGB->BGR, minus the BGR mean."""
        return x255.flip(1) - self.mean

    def features(self, x255: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
        """Runs the network on a preprocessed-free RGB [0, 255] NCHW batch up to the deepest of
        `layers` and returns those activations (NCHW)."""
        unknown = [l for l in layers if l not in VGG19_LAYERS]
        if unknown:
            raise ValueError(f"unknown VGG19 layers: {unknown}")
        last = max(VGG19_LAYERS.index(l) for l in layers)
        h = self.preprocess(x255)
        out = {}
        for name in VGG19_LAYERS[: last + 1]:
            if name.endswith("_pool"):
                h = F.max_pool2d(h, kernel_size=2, stride=2)
            else:
                w, b = self.params[name]
                h = F.relu(F.conv2d(h, w, b, stride=1, padding=1))
            if name in layers:
                out[name] = h
        return out
