"""Every figure bnlab draws comes from this package, so labels, titles and units agree.

Matplotlib runs with the Agg backend when no display is available; figures are saved as PNG.
"""

from bnlab.plotting.curves import plot_training_curves
from bnlab.plotting.grid import visualize_grid
from bnlab.plotting.style import COLORS, new_figure, save_figure

__all__ = ["COLORS", "new_figure", "plot_training_curves", "save_figure", "visualize_grid"]
