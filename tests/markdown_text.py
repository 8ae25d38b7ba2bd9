"""What the Markdown of a page element would make active (links, images, bare URLs), and the text it shows."""
import re

from markdown_it import MarkdownIt

_PARSER = MarkdownIt("commonmark").enable(["strikethrough", "table"])
_BARE_URL = re.compile(r"(?i)(?:\b(?:https?|ftp|mailto|xmpp):|\bwww\.|\w@\w)")  # GFM links these without brackets
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def active_links(markdown: str) -> list[str]:
    """Every link or image the Markdown would render, and every bare URL GitHub-flavoured Markdown would link."""
    found = [match.group(0) for match in _BARE_URL.finditer(markdown)]
    for block in _PARSER.parse(markdown):
        for token in block.children or []:
            if token.type in ("link_open", "image"):
                found.append(token.attrs.get("href") or token.attrs.get("src"))
    return found


def shown(markdown: str) -> str:
    """The text Markdown with backslash-escaped punctuation shows."""
    return _ESCAPED.sub(r"\1", markdown)
