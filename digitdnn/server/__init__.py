"""Running the page for a class: the DIGITDNN_* settings, `digitdnn serve`, and closed sessions' memory returned."""
