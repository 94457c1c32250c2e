"""The edge where results become tables, plots, files and progress bars."""
