"""Text that people typed or sent (file and model names, values from the page address) shown as it is, never as Markdown."""
from __future__ import annotations

import re

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character, which Markdown lets one escape
_LINE_BREAKS = re.compile(r"[\r\n\v\f\u2028\u2029]+")


def plain(text: object) -> str:
    """`text` ready for any Streamlit element that reads Markdown (st.markdown, captions, alerts, widget labels):
    every punctuation character is backslash-escaped, so that it shows as typed and no link, image, emphasis,
    colour, icon or formula can appear, and line breaks become spaces, so that it cannot start a block."""
    return _PUNCTUATION.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(text)))
