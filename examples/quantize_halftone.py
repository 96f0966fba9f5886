"""Halftoning a shipped image on its grid graph: one bit per pixel, side by side.

The camera image of PyWavelets, block-averaged to ``size x size`` and mapped to [-1, 1],
is a signal on the 4-neighbour grid graph. Each method gives a +-1 image:

* single-shot: the vertex of {z : X_r^T z = X_r^T f, -1 <= z <= 1} (at most r pixels
  off +-1), then rounding; its low-pass content (r smallest Laplacian eigenvectors) equals
  the image's except on those pixels;
* Sigma-Delta: first order along a serpentine scan (the classic error-diffusion baseline);
* MSQ: thresholding at 0.

The table reports ||L_r(f - q)|| / ||f|| per method; the figure shows the original, the
three halftones and their low-pass versions X_r X_r^T q (what the filter "sees").

Run:   python examples/quantize_halftone.py [--size 64] [--r 201] [--out results/quantize_halftone]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from overparam.quantize import (GRAPH_METHODS, grid_adjacency, halftone,
                                laplacian_eigenvectors, shipped_image)


def main(size: int = 64, r: int = 201, out: str | Path = "results/quantize_halftone",
         image: str = "camera") -> dict[str, float]:
    """Halftone the image with each method; write ``halftone.png``; return the errors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img = shipped_image(image, size)
    _, Xr = laplacian_eigenvectors(grid_adjacency(size, size), r)
    results = {m: halftone(img, r=r, bits=1, method=m) for m in GRAPH_METHODS}
    errors = {m: float(res.info["rel_error"]) for m, res in results.items()}
    print(f"{image} {size}x{size}, r = {r}: ||L_r(f - q)|| / ||f||")
    for m, e in errors.items():
        extra = (f"  ({results[m].info['n_free']} pixels rounded off the vertex)"
                 if m == "single-shot" else "")
        print(f"  {m:12s} {e:.4f}{extra}")
    low = lambda v: (Xr @ (Xr.T @ v.ravel())).reshape(size, size)  # noqa: E731
    fig, axes = plt.subplots(2, 4, figsize=(12, 6.4))
    panels = [("original", img)] + [(m, results[m].x) for m in GRAPH_METHODS]
    for ax, (name, pic) in zip(axes[0], panels):
        ax.imshow(pic, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(name if name == "original" else f"{name}: {errors[name]:.3f}",
                     fontsize="medium")
    for ax, (name, pic) in zip(axes[1], panels):
        ax.imshow(low(pic), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(f"low-pass (r={r}) of {name}", fontsize="small")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "halftone.png", dpi=120)
    plt.close(fig)
    print(f"figure written to {out / 'halftone.png'}")
    return errors


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--r", type=int, default=201,
                   help="bandwidth (default 201: at 64 x 64, r = 200 splits a repeated "
                        "eigenvalue of the grid Laplacian)")
    p.add_argument("--out", default="results/quantize_halftone")
    p.add_argument("--image", default="camera", choices=["camera", "ascent"])
    a = p.parse_args()
    main(a.size, a.r, a.out, a.image)
