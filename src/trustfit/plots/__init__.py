"""Pictures of a fit, drawn from a :class:`~trustfit.FitResult` (matplotlib, the ``plot``
extra, imported only when a picture is made).

* :func:`plot_fit` -- data with error bars, fitted curve, confidence band, residual panel;
* :func:`plot_convergence` -- cost, ``||g||_inf`` and ``mu`` / ``Delta`` per iteration on log
  scales, the LM / QN phases shaded;
* :func:`animate_fit` -- the model curve moving over the data, one frame per accepted
  iterate (GIF, or MP4 with ffmpeg), and the path over the cost contours for two
  parameters;
* :func:`confidence_band` -- the numbers behind the band, without drawing;
* :func:`plot_global` -- the grid of a global fit's data sets, the shared values in the title.

``model_fn(p, x)`` is the model with parameters first, as ``trustfit.models.Model.eval``.
"""
from .animate import animate_fit
from .convergence import plot_convergence
from .fit import Band, confidence_band, model_jacobian, plot_fit
from .global_fit import plot_global

__all__ = ["Band", "animate_fit", "confidence_band", "model_jacobian", "plot_convergence",
           "plot_fit", "plot_global"]
