"""Named autoencoder architectures beyond the mlp/conv families of ``nets.py``.

The lecture presets are the three convolutional autoencoders of the checkpoint
solutions in the lecture notes (Keras ``Conv2D(k, 3, padding="same", relu)``,
``MaxPooling2D(2)``, ``UpSampling2D(2)``, ``Conv2DTranspose(k, 3, padding="same")``):

    conv-lecture1  solution 1: encoder 16 -> pool -> 8 -> pool -> 4 -> 2 -> 1, code (1, H/4, W/4)
                   decoder 16 -> up -> 8 -> up -> 4 -> 2 -> C, 3x3 convolutions
    conv-lecture2  solution 2: encoder C -> pool -> 2 -> pool -> 4 -> 8 -> 16, code (16, H/4, W/4)
                   decoder the mirror image with transposed 3x3 convolutions
    conv-lecture3  solution 3: encoder C -> pool -> 5 -> pool -> 10 -> 20 -> 40, code (40, H/4, W/4)
                   decoder 40 -> up -> 20 -> up -> 10 -> 5 -> C, 3x3 convolutions

On MNIST (C=1, 28x28) the codes have 49, 784 and 1960 numbers. Every encoder
layer ends in a ReLU, as in the notes, so the codes are non-negative. The nets
adapt to any image whose height and width are multiples of 4 (digits: 8x8 ->
codes of 1, 16 or 40 channels of 2x2); other sizes are refused with ValueError.
The "1" channels of the notes that touch the image are its C channels.

``linear``: one linear map each way and no activation, the autoencoder whose
optimum spans the principal subspace (Baldi and Hornik 1989).

All layers here start as Keras's did: Glorot-uniform weights, zero biases; the
lecture decoders' output layer starts at a dark image (bias -2, sigmoid 0.12,
about MNIST's mean pixel). Without that, the early push to darken every output
switched off the single-channel ReLU code of conv-lecture1 (all codes 0, a
constant output), both with PyTorch's default initialisation and with Keras's.
"""
from __future__ import annotations

import math

import torch
from torch import nn

OUT_BIAS0 = -2.0  # initial bias of the lecture decoders' output layer: sigmoid(-2) = 0.12

# name -> (encoder widths, decoder widths before the output layer, transposed convolutions?)
# None stands for the image's channels C.
LECTURE_ARCHS: dict[str, tuple[tuple, tuple, bool]] = {
    "conv-lecture1": ((16, 8, 4, 2, 1), (16, 8, 4, 2), False),
    "conv-lecture2": ((None, 2, 4, 8, 16), (16, 8, 4, 2), True),
    "conv-lecture3": ((None, 5, 10, 20, 40), (40, 20, 10, 5), False),
}


def check_lecture_shape(arch: str, shape: tuple[int, int, int]) -> None:
    _, h, w = shape
    if h % 4 or w % 4:
        raise ValueError(f"--arch {arch} pools twice by 2 and upsamples back, so it needs a height and width that are "
                         f"multiples of 4 (MNIST 28x28, digits 8x8); got {h}x{w}. Use --image-size 28 (image folders), "
                         f"or --arch conv / mlp")


def code_shape(arch: str, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """(channels, H/4, W/4) of a lecture preset's code."""
    check_lecture_shape(arch, shape)
    c, h, w = shape
    widths = LECTURE_ARCHS[arch][0]
    return (widths[-1] or c, h // 4, w // 4)


def keras_init(layer: nn.Module) -> nn.Module:
    """Keras's defaults, as the notes' code ran with: Glorot-uniform weights, zero biases."""
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def conv3(cin: int, cout: int, transpose: bool = False) -> nn.Module:
    """3x3 convolution with "same" padding (stride 1: the transposed one has the same output size)."""
    return keras_init((nn.ConvTranspose2d if transpose else nn.Conv2d)(cin, cout, 3, padding=1))


class LectureEncoder(nn.Module):
    """(B, C, H, W) -> (B, code): two conv+pool stages, three convs at H/4 x W/4, flatten."""

    def __init__(self, arch: str, shape: tuple[int, int, int]):
        super().__init__()
        check_lecture_shape(arch, shape)
        c = shape[0]
        widths = [w or c for w in LECTURE_ARCHS[arch][0]]
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip([c] + widths[:-1], widths)):
            layers += [conv3(cin, cout), nn.ReLU()]
            if i < 2:
                layers.append(nn.MaxPool2d(2))  # (B, w_0, H/2, W/2), then (B, w_1, H/4, W/4)
        layers.append(nn.Flatten())  # (B, w_4 * H/4 * W/4)
        self.net = nn.Sequential(*layers).to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.contiguous(memory_format=torch.channels_last))  # channels-last: twice as fast on the CPU


class LectureDecoder(nn.Module):
    """(B, code) -> (B, C, H, W) logits: conv+upsample twice, then convs at full size."""

    def __init__(self, arch: str, shape: tuple[int, int, int]):
        super().__init__()
        self.start = code_shape(arch, shape)  # (w_4, H/4, W/4)
        c = shape[0]
        widths, transpose = list(LECTURE_ARCHS[arch][1]), LECTURE_ARCHS[arch][2]
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip([self.start[0]] + widths[:-1], widths)):
            layers += [conv3(cin, cout, transpose), nn.ReLU()]
            if i < 2:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))  # (B, d_0, H/2, W/2), then (B, d_1, H, W)
        out = conv3(widths[-1], c, transpose)
        nn.init.constant_(out.bias, OUT_BIAS0)
        layers.append(out)  # (B, C, H, W) logits; the AE applies the sigmoid
        self.net = nn.Sequential(*layers).to(memory_format=torch.channels_last)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z.reshape(-1, *self.start).contiguous(memory_format=torch.channels_last)  # (B, w_4, H/4, W/4)
        return self.net(x).contiguous()  # (B, C, H, W)


class LinearEncoder(nn.Module):
    """(B, C, H, W) -> (B, k): z = W_e x + b_e."""

    def __init__(self, shape: tuple[int, int, int], k: int):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), keras_init(nn.Linear(math.prod(shape), k)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LinearDecoder(nn.Module):
    """(B, k) -> (B, C, H, W): x_hat = W_d z + b_d, no output activation."""

    def __init__(self, shape: tuple[int, int, int], k: int):
        super().__init__()
        self.shape = tuple(shape)
        # Glorot init keeps |W_d| near 1; PyTorch's fan-in default (fan-in k) makes SGD diverge on MNIST.
        self.linear = keras_init(nn.Linear(k, math.prod(shape)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear(z).view(-1, *self.shape)

    def basis(self) -> torch.Tensor:
        """(D, k) columns spanning the decoder's image (minus the offset b_d)."""
        return self.linear.weight.detach()
