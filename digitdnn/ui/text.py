"""Text that people typed or sent (file and model names, values from the page address) shown as it is, never as
Markdown."""
from __future__ import annotations

import re

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character, which Markdown lets one escape
_LINE_BREAKS = re.compile(r"[\r\n\v\f\u2028\u2029]+")
# Streamlit's Markdown links "http://…", "www.…" and e-mail addresses in the text as shown, escaped or not: an
# invisible word joiner (U+2060) after "http"/"https"/"www" and before "@" stops that and changes nothing seen.
_BARE_LINK = re.compile(r"(?i)(\bhttps?(?=:)|\bwww(?=\.)|(?=@))")
WORD_JOINER = "\u2060"


def plain(text: object) -> str:
    """`text` ready for any Streamlit element that reads Markdown (st.markdown, captions, alerts, widget labels),
    shown as typed: punctuation backslash-escaped (no link, image, emphasis, colour, icon or formula), bare web and
    e-mail addresses broken by an invisible joiner (no automatic link), and line breaks made spaces (no new block)."""
    text = _BARE_LINK.sub(lambda match: match.group(1) + WORD_JOINER, _LINE_BREAKS.sub(" ", str(text)))
    return _PUNCTUATION.sub(r"\\\1", text)
