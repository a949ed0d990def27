"""The shared layers of latentlab.nn: mlp's layout (the keys of saved weights) and up()'s sizes."""
import torch
from torch import nn

from latentlab.nn.nets import down_sizes, mlp, up


def test_mlp_layout_and_activation():
    net = mlp([5, 7, 7, 2], lambda: nn.LeakyReLU(0.2))
    assert [type(m) for m in net] == [nn.Linear, nn.LeakyReLU, nn.Linear, nn.LeakyReLU, nn.Linear]
    assert net[1].negative_slope == 0.2
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert net(torch.zeros(3, 5)).shape == (3, 2)
    assert [type(m) for m in mlp([4, 3])] == [nn.Linear]


def test_up_inverts_down_sizes():
    for h, w in [(28, 28), (8, 8), (13, 10)]:
        sizes = down_sizes(h, w)
        x = torch.zeros(1, 2, *sizes[2])
        x = up(2, 3, sizes[2], sizes[1])(x)
        assert x.shape[2:] == sizes[1]
        assert up(3, 1, sizes[1], sizes[0], bias=False)(x).shape[2:] == (h, w)
    assert up(2, 3, (2, 2), (4, 4), bias=False).bias is None
