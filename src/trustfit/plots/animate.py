"""Animation of a fit: the model curve moving over the data, one frame per iterate.

Frame 0 is the start ``x0``; then one frame per *accepted* iteration (a rejected step does
not move the curve), so a run with ``a`` accepted steps gives ``a + 1`` frames; a run that
the rescue layer restarted also gets a frame where each restart begins, its title saying
so. The title of each frame gives the iteration number, the cost and the kind of step that
led there (LM, QN, GN, dogleg). For a model with two parameters a second panel draws the path of the
iterates over the contours of the cost surface.

Frames are drawn by blitting (static background once, moving artists per frame) and written
with Pillow as a GIF, or piped to ``ffmpeg`` as an MP4 when ``ffmpeg`` is on the ``PATH``.
matplotlib's ``PillowWriter`` would redraw the whole figure for every frame, about ten times
slower, which matters for a demo that animates runs of a hundred iterations.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import cast

import numpy as np

from ..core.result import FitResult
from ._common import ModelFn, as_1d, cost_of, fmt, iterates, model_values, pyplot, sigma_array

FORMATS = (".gif", ".mp4")


def select_frames(n: int, max_frames: int | None) -> list[int]:
    """Indices of the frames to draw: all of them, or ``max_frames`` evenly spread with the
    first and the last always kept."""
    if max_frames is None or n <= max_frames:
        return list(range(n))
    if max_frames < 2:
        raise ValueError(f"max_frames must be at least 2, got {max_frames}")
    return sorted(set(np.linspace(0, n - 1, max_frames).round().astype(int).tolist()))


def _check_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path}: the animation format is chosen by the file name, which must "
                         f"end in {' or '.join(FORMATS)}")
    if suffix == ".mp4" and shutil.which("ffmpeg") is None:
        raise ValueError(f"{path}: writing MP4 needs ffmpeg on the PATH, and there is none; "
                         f"write a .gif instead")
    return suffix


def _save(frames: list[np.ndarray], path: Path, suffix: str, fps: float, hold: float) -> None:
    """Write RGBA frames: GIF through Pillow (the last frame held ``hold`` seconds so the
    loop pauses on the answer), MP4 by piping raw frames to ffmpeg."""
    if suffix == ".gif":
        from PIL import Image

        # One palette for the whole GIF, from the first, middle and last frames together
        # (the background is in every frame): mapping each frame onto it is ~10x faster
        # than a palette per frame, and colours do not flicker between frames.
        sample = np.concatenate([frames[0], frames[len(frames) // 2], frames[-1]])[..., :3]
        palette = Image.fromarray(sample).quantize(255, method=Image.Quantize.FASTOCTREE)
        images = [Image.fromarray(f[..., :3]).quantize(palette=palette,
                                                       dither=Image.Dither.NONE)
                  for f in frames]
        ms = int(round(1000 / fps))
        durations = [ms] * (len(images) - 1) + [max(ms, int(1000 * hold))]
        images[0].save(path, save_all=True, append_images=images[1:], duration=durations,
                       loop=0, optimize=False)
        return
    import subprocess

    h, w = frames[0].shape[:2]
    ffmpeg = cast(str, shutil.which("ffmpeg"))  # checked on the PATH before the frames
    cmd = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo",
           "-pix_fmt", "rgba", "-s", f"{w}x{h}", "-r", f"{fps}", "-i", "-",
           "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", str(path)]
    proc = subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed writing {path}: "
                           f"{proc.stderr.decode(errors='replace').strip()[:300]}")


def _off_picture(v: np.ndarray, ylo: float, yhi: float) -> str:
    """A note for a frame whose curve is mostly outside the picture, so it is not missed."""
    inside = np.isfinite(v) & (v >= ylo) & (v <= yhi)
    if inside.mean() >= 0.5:
        return ""
    fin = v[np.isfinite(v)]
    if fin.size == 0:
        return "model not finite here"
    return f"model mostly off the picture: from {fin.min():.3g} to {fin.max():.3g}"


def _title(iteration, p, kind, model_fn, x, y, s) -> str:
    step = f"{kind.replace(',', ' step,', 1) if ',' in kind else kind + ' step'}" if kind \
        else "start"
    return f"iteration {iteration}   ·   cost {fmt(cost_of(model_fn, p, x, y, s))}   ·   {step}"


def _cost_grid(model_fn, x, y, s, path_points, best, n=60):
    """Cost on an ``n x n`` grid around the path (padded by 25% of its extent each side)."""
    pts = np.vstack([path_points, best])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    width = np.maximum(hi - lo, 1e-3 * np.maximum(np.abs(pts).max(axis=0), 1.0))
    lo, hi = lo - 0.25 * width, hi + 0.25 * width
    g0, g1 = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    C = np.empty((n, n))
    for i, b in enumerate(g1):
        for j, a in enumerate(g0):
            C[i, j] = cost_of(model_fn, np.array([a, b]), x, y, s)
    return g0, g1, C


def animate_fit(result: FitResult, model_fn: ModelFn, x, y, path, sigma=None,
                fps: float = 8, hold: float = 1.5, max_frames: int | None = None,
                contour: bool | None = None, param_names=None, xlabel: str = "x",
                ylabel: str = "y", dpi: int = 80) -> int:
    """Write the animation to ``path`` (``.gif``, or ``.mp4`` with ffmpeg) and return the
    number of frames written.

    ``model_fn(p, x)`` is the model; the frames come from ``result.x0`` and the accepted
    iterates of ``result.history``. ``max_frames`` spreads at most that many frames over the
    run (first and last kept); ``None`` keeps one per accepted iteration. ``contour``: draw
    the cost-contour panel (default: when the model has two parameters). ``fps`` frames per
    second; ``hold`` seconds on the last frame of a GIF before it loops.
    """
    path = Path(path)
    suffix = _check_format(path)
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    plt = pyplot()
    x = as_1d("x", x)
    y = as_1d("y", y, x.size)
    s = sigma_array(sigma, x.size)
    steps = iterates(result)
    frames = [steps[i] for i in select_frames(len(steps), max_frames)]
    n_params = np.size(result.x)
    if contour is None:
        contour = n_params == 2
    if contour and n_params != 2:
        raise ValueError(f"the cost-contour panel needs a model with 2 parameters, this one "
                         f"has {n_params}")
    names = list(param_names) if param_names is not None else [f"p{i}" for i in range(n_params)]

    if contour:
        from matplotlib.colors import LogNorm
        from matplotlib.ticker import LogFormatterSciNotation, LogLocator

        fig, (ax, ax_c) = plt.subplots(1, 2, figsize=(10.0, 4.4), layout="constrained",
                                       gridspec_kw=dict(width_ratios=[1.25, 1]))
    else:
        fig, ax = plt.subplots(figsize=(7.0, 4.4), layout="constrained")
        ax_c = None

    # Fixed axes: the data and the final curve decide them; a wild early iterate runs off
    # the picture instead of squashing the data into a line.
    lo, hi = float(x.min()), float(x.max())
    grid = np.linspace(lo, hi, 300) if hi > lo else np.sort(x)
    final = model_values(model_fn, result.x, grid)
    ys = np.concatenate([y if s is None else np.concatenate([y - s, y + s]), final])
    ys = ys[np.isfinite(ys)]
    ylo, yhi = float(ys.min()), float(ys.max())
    pad = 0.12 * (yhi - ylo or 1.0)
    ylo, yhi = ylo - pad, yhi + pad
    clip = 50 * (yhi - ylo)

    if s is None:
        ax.plot(x, y, "o", color="black", ms=4.5, label="data", zorder=3)
    else:
        ax.errorbar(x, y, yerr=s, fmt="o", color="black", ms=4.5, capsize=2.5, elinewidth=1,
                    label="data ± σ", zorder=3)
    (curve,) = ax.plot([], [], "-", color="C0", lw=2, label="model at the iterate")
    ax.set_xlim(lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo))
    ax.set_ylim(ylo, yhi)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper right", fontsize="small", frameon=False)
    away = ax.text(0.02, 0.03, "", transform=ax.transAxes, fontsize="small", color="C0",
                   ha="left", va="bottom")
    # The layout is computed once, with the longest title any frame will show.
    title = fig.suptitle(max((_title(*f, model_fn, x, y, s) for f in frames), key=len),
                         fontsize="medium")

    if ax_c is not None:
        pts = np.array([p for _, p, _ in steps])
        g0, g1, C = _cost_grid(model_fn, x, y, s, pts, np.asarray(result.x, dtype=float))
        C = np.where(np.isfinite(C), C, np.nan)
        finite = C[np.isfinite(C) & (C > 0)]
        top = np.percentile(finite, 98)
        levels = np.geomspace(finite.min(), top, 25)
        cs = ax_c.contourf(g0, g1, np.clip(C, levels[0], top), levels=levels,
                           norm=LogNorm(levels[0], top), cmap="viridis_r")
        ax_c.contour(g0, g1, C, levels=levels[::3], colors="white", linewidths=0.5,
                     alpha=0.6)
        fig.colorbar(cs, ax=ax_c, label="cost  F = ½‖r‖²", ticks=LogLocator(),
                     format=LogFormatterSciNotation())
        (trail,) = ax_c.plot([], [], ".-", color="C3", lw=1.4, ms=5)
        (head,) = ax_c.plot([], [], "o", color="C3", mec="white", ms=9)
        ax_c.plot(*result.x, "*", color="white", mec="black", ms=13, label="solution")
        ax_c.set_xlabel(names[0])
        ax_c.set_ylabel(names[1])
        ax_c.set_title("path over the cost contours", fontsize="small")
        ax_c.legend(loc="upper right", fontsize="small", framealpha=0.8)

    # Blitting: the data, axes and contours are drawn once; each frame restores that
    # background and draws only the moving artists (ten times faster than a full redraw).
    moving = [curve, title, away] + ([trail, head] if ax_c is not None else [])
    for artist in moving:
        artist.set_animated(True)
    fig.set_dpi(dpi)
    canvas = fig.canvas
    canvas.draw()
    fig.set_layout_engine("none")  # the layout is fixed now; frames must not shift it
    background = canvas.copy_from_bbox(fig.bbox)
    images = []
    for k, (iteration, p, kind) in enumerate(frames):
        v = model_values(model_fn, p, grid)
        curve.set_data(grid, np.where(np.isfinite(v), np.clip(v, ylo - clip, yhi + clip),
                                      np.nan))
        title.set_text(_title(iteration, p, kind, model_fn, x, y, s))
        away.set_text(_off_picture(v, ylo, yhi))
        if ax_c is not None:
            upto = np.array([q for _, q, _ in frames[: k + 1]])
            trail.set_data(upto[:, 0], upto[:, 1])
            head.set_data([p[0]], [p[1]])
        canvas.restore_region(background)
        for artist in moving:
            fig.draw_artist(artist)
        images.append(np.array(canvas.buffer_rgba()))
    plt.close(fig)
    _save(images, path, suffix, fps, hold)
    return len(images)
