"""What the Markdown of a page element would make active (links, images, bare URLs), and the text it shows."""
import re

from markdown_it import MarkdownIt

_PARSER = MarkdownIt("commonmark").enable(["strikethrough", "table"])
# GitHub-flavoured Markdown (as Streamlit renders it) links these in the text as shown, escapes or not.
_BARE_URL = re.compile(r"(?i)\b(?:https?://|www\.)|[\w.+-]@[\w-]")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_INVISIBLE = "\u2060"  # word joiner


def link_targets(markdown: str) -> list[str]:
    """Where every link and image the Markdown would render points (href or src), in order."""
    return [str(token.attrs.get("href") or token.attrs.get("src"))
            for block in _PARSER.parse(markdown) for token in block.children or []
            if token.type in ("link_open", "image")]


def active_links(markdown: str) -> list[str]:
    """Every link or image the Markdown would render, and every bare URL or e-mail address it would link."""
    bare = [match.group(0) for match in _BARE_URL.finditer(_ESCAPED.sub(r"\1", markdown))]
    return bare + link_targets(markdown)


def shown(markdown: str) -> str:
    """The text a person sees: backslash-escaped punctuation as itself, invisible joiners left out."""
    return _ESCAPED.sub(r"\1", markdown).replace(_INVISIBLE, "")
