#!/usr/bin/python3
"""Unit checks of the tutorial reference's building blocks (no weights file needed, ~1 s):

  /usr/bin/python3 -m unittest discover -s bench -p 'test_*.py'
"""
import os
import sys
import unittest

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tf_tutorial_reference as ref  # noqa: E402
from keras_vgg19 import KerasVGG19, VGG19_LAYERS, random_vgg19_weights  # noqa: E402


class ImageLoading(unittest.TestCase):
    def test_new_shape_is_float32_product_truncated_not_rounded(self):
        self.assertEqual(ref.tutorial_shape(300, 451, 128), (85, 128))  # 85.14 -> 85
        self.assertEqual(ref.tutorial_shape(400, 600, 512), (341, 512))  # 341.33 -> 341
        # float32: 107 * (128 / 107) = 127.99999 -> 127, a real quirk of the tutorial's load_img.
        self.assertEqual(ref.tutorial_shape(50, 107, 128), (59, 127))

    def test_convert_image_dtype_multiplies_by_the_reciprocal(self):
        px = np.arange(256, dtype=np.uint8).reshape(1, 256, 1)
        out = ref.convert_image_dtype(px)
        self.assertEqual(out.dtype, np.float32)
        np.testing.assert_array_equal(out, px.astype(np.float32) * np.float32(1 / 255))
        self.assertEqual(out.max(), np.float32(255) * np.float32(1 / 255))

    def test_bilinear_resize_matches_half_pixel_bilinear_without_antialias(self):
        rng = np.random.default_rng(0)
        img = rng.random((37, 53, 3), dtype=np.float32)
        for h, w in [(10, 16), (37, 53), (80, 111), (5, 3)]:
            ours = ref.resize_bilinear(img, h, w)
            torch_ = F.interpolate(torch.from_numpy(img).permute(2, 0, 1)[None], size=(h, w), mode="bilinear", align_corners=False)
            np.testing.assert_allclose(ours, torch_[0].permute(1, 2, 0).numpy(), atol=1e-5)

    def test_downscaling_by_an_integer_factor_samples_pixel_pairs_without_antialias(self):
        img = np.zeros((8, 8, 1), dtype=np.float32)
        img[3:5, 3:5] = 1.0
        out = ref.resize_bilinear(img, 2, 2)
        # 8 -> 2: outputs sample input positions 1.5 and 5.5 (pixels 1-2 and 5-6), so the bright
        # centre (pixels 3-4) vanishes; an antialiased resize would keep a quarter of it.
        self.assertEqual(float(out.max()), 0.0)


class LossesAndOptimizer(unittest.TestCase):
    def test_gram_is_the_tutorials_einsum_over_locations(self):
        x = torch.rand(1, 6, 4, 5)
        nhwc = x.permute(0, 2, 3, 1)
        expect = torch.einsum("bijc,bijd->bcd", nhwc, nhwc) / 20
        torch.testing.assert_close(ref.gram_matrix(x), expect)

    def test_total_variation_is_a_sum_of_absolute_neighbour_differences(self):
        x = torch.tensor([[0.0, 1.0], [0.5, 0.25]]).reshape(1, 1, 2, 2).repeat(1, 3, 1, 1)
        # vertical |0.5-0| + |0.25-1| = 1.25, horizontal |1-0| + |0.25-0.5| = 1.25, x3 channels
        self.assertAlmostEqual(float(ref.total_variation(x)), 7.5, places=6)

    def test_keras_adam_uses_the_epsilon_hat_form(self):
        x = torch.zeros(3)
        g = torch.tensor([10.0, -0.01, 0.0])
        opt = ref.KerasAdam(x)
        opt.step(x, g)
        lr_t = 0.02 * np.sqrt(1 - 0.999) / (1 - 0.99)
        m, v = 0.01 * g.numpy(), 0.001 * g.numpy() ** 2
        np.testing.assert_allclose(x.numpy(), -lr_t * m / (np.sqrt(v) + 0.1), rtol=1e-5)
        self.assertAlmostEqual(float(x[0]), -0.0152, places=4)  # ~lr*|m|/(|m|+eps), not -lr

    def test_vgg_preprocessing_is_caffe_bgr_minus_mean(self):
        vgg = KerasVGG19(random_vgg19_weights(0))
        rgb = torch.tensor([10.0, 20.0, 30.0]).view(1, 3, 1, 1)
        out = vgg.preprocess(rgb).flatten().tolist()
        np.testing.assert_allclose(out, [30 - 103.939, 20 - 116.779, 10 - 123.68], rtol=1e-6)

    def test_vgg_feature_shapes_follow_same_padding_and_floored_pooling(self):
        vgg = KerasVGG19(random_vgg19_weights(0))
        feats = vgg.features(torch.rand(1, 3, 85, 128) * 255, ["block1_conv1", "block5_conv2"])
        self.assertEqual(tuple(feats["block1_conv1"].shape), (1, 64, 85, 128))
        self.assertEqual(tuple(feats["block5_conv2"].shape), (1, 512, 5, 8))  # 85->42->21->10->5
        self.assertEqual(len([l for l in VGG19_LAYERS if "conv" in l]), 16)


if __name__ == "__main__":
    unittest.main()
