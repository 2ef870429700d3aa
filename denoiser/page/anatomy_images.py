"""Pictures of a model's insides as crisp greyscale grids: feature maps, filters, strips of digits.

A 7×7 map or a 3×3 filter is only readable when every value stays a sharp square, so tiles
are enlarged by whole-number repetition (nearest neighbour) and laid out on a light grid,
then encoded once as a PNG: one image per picture keeps the page to a few small messages.
"""

from __future__ import annotations

import numpy as np

from denoiser.page import panels

GAP_PX = 3
GAP_VALUE = 200  # light grey between tiles, so black maps stay visibly separate


def scale_to_unit(maps: np.ndarray, top: np.ndarray | float) -> np.ndarray:
    """Activations (≥ 0 after ReLU) over `top`, clipped to [0, 1]; a zero `top` gives black."""
    top = np.asarray(top, np.float32)
    safe = np.where(top > 0, top, 1.0)
    return np.clip(np.asarray(maps, np.float32) / safe, 0.0, 1.0) * (top > 0)


def channel_tops(*maps: np.ndarray) -> np.ndarray:
    """Each channel's largest value over all of `maps` (each (H, W, C)), so they share one scale."""
    return np.max([np.asarray(m).reshape(-1, np.shape(m)[-1]).max(axis=0) for m in maps], axis=0)


def signed_to_unit(weights: np.ndarray) -> np.ndarray:
    """Weights of either sign → [0, 1] with 0 at mid-grey, positive lighter, negative darker."""
    weights = np.asarray(weights, np.float32)
    top = float(np.abs(weights).max())
    return np.full_like(weights, 0.5) if top == 0 else 0.5 + 0.5 * weights / top


def grid(tiles: np.ndarray, columns: int, tile_px: int, gap: int = GAP_PX) -> np.ndarray:
    """(N, h, w) tiles in [0, 1] → one uint8 image, `columns` wide, each tile about `tile_px` px."""
    tiles = np.asarray(tiles, np.float32)
    count, height, width = tiles.shape
    scale = max(1, round(tile_px / height))
    rows = -(-count // columns)
    cell_h, cell_w = height * scale, width * scale
    sheet = np.full((rows * (cell_h + gap) + gap, columns * (cell_w + gap) + gap), GAP_VALUE, np.uint8)
    for index, tile in enumerate(tiles):
        row, column = divmod(index, columns)
        top, left = gap + row * (cell_h + gap), gap + column * (cell_w + gap)
        sheet[top : top + cell_h, left : left + cell_w] = panels.upscale(tile, cell_h)
    return sheet


def maps_png(maps: np.ndarray, tops: np.ndarray, columns: int, tile_px: int) -> bytes:
    """(H, W, C) feature maps, each over its channel's `tops`, as one PNG grid in channel order."""
    tiles = np.moveaxis(scale_to_unit(maps, tops), -1, 0)
    return panels.png_bytes(grid(tiles, columns, tile_px))


def filters_png(filters: np.ndarray, columns: int = 8, tile_px: int = 36) -> bytes:
    """(F, h, w) convolution kernels on one signed grey scale, as one PNG grid."""
    return panels.png_bytes(grid(signed_to_unit(filters), columns, tile_px))


def strip_png(images: np.ndarray, tile_px: int = 84) -> bytes:
    """(N, 28, 28) digits in [0, 1] side by side, as one PNG."""
    images = np.asarray(images, np.float32)
    return panels.png_bytes(grid(images, len(images), tile_px))
