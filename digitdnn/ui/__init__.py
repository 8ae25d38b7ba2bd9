"""The Streamlit page (page.py) and the pieces it is built from: sidebar, drawing, prediction, charts, models.

The only part of digitdnn that imports streamlit. `images` and `charts` are plain
functions (Pillow, Altair) that the pieces use and tests call directly.
"""
