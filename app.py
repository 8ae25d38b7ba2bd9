"""digitdnn: draw a digit and a fully connected network names it; train that network live in the sidebar.

Run with `make run` (streamlit run app.py); an installed package runs the same page with `digitdnn serve`.
The page itself is digitdnn/ui/page.py.
"""
from digitdnn.ui.page import main

main()
