"""Text that people typed or sent (file and model names, values from the page address) shown as it is, never as
Markdown; and the server's own messages shown without its folders."""
from __future__ import annotations

import re

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character, which Markdown lets one escape
_LINE_BREAKS = re.compile(r"[\r\n\v\f\u2028\u2029]+")
# Streamlit's Markdown links "http://…", "www.…" and e-mail addresses in the text as shown, escaped or not: an
# invisible word joiner (U+2060) after "http"/"https"/"www" and before "@" stops that and changes nothing seen.
_BARE_LINK = re.compile(r"(?i)(\bhttps?(?=:)|\bwww(?=\.)|(?=@))")
WORD_JOINER = "\u2060"
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/])(?:~|/)(?:[^\s/:'\"“”()]*/)+([^\s/:'\"“”()]*)")


def plain(text: object) -> str:
    """`text` ready for any Streamlit element that reads Markdown (st.markdown, captions, alerts, widget labels),
    shown as typed: punctuation backslash-escaped (no link, image, emphasis, colour, icon or formula), bare web and
    e-mail addresses broken by an invisible joiner (no automatic link), and line breaks made spaces (no new block)."""
    text = _BARE_LINK.sub(lambda match: match.group(1) + WORD_JOINER, _LINE_BREAKS.sub(" ", str(text)))
    return _PUNCTUATION.sub(r"\\\1", text)


def without_paths(message: object) -> str:
    """A server message (an exception's text) as a browser may see it: every absolute path cut to its last part
    ("/srv/class/drawings.sqlite" -> "drawings.sqlite"), so no visitor learns the server's folders. The full
    message belongs in the server's log."""
    return _ABSOLUTE_PATH.sub(lambda match: match.group(1) or "a folder", str(message))
