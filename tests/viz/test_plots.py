import torch

from latentlab.viz.plots import grid


def test_grid_tiles_images_with_padding():
    images = torch.zeros(6, 1, 4, 5)
    images[1] = 1.0
    tiles = grid(images, nrow=3, pad=1)
    assert tiles.shape == (2 * 5 + 1, 3 * 6 + 1, 1) and tiles.dtype.name == "uint8"
    assert tiles[1:5, 7:12].min() == 255  # the second image is white
    assert tiles[1:5, 1:6].max() == 0  # the first is black
