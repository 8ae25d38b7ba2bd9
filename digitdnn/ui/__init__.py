"""The Streamlit page (page.py) and the pieces it is built from; the only part of digitdnn that imports streamlit.

Each visible section is a module named after its label, with the entry point `show(...)`: page.py reads
`mistakes.show()` for the "Mistakes" tab, `train_and_stop.show()` for the sidebar's Train and Stop. The other
modules are named for what they are: state (a session's Session), runs, reading, server_state, page_address,
layout, and the plain functions charts, images and text.
"""
