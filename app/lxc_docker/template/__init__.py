"""Go text/template, the subset `docker inspect --format` needs: `parse(text).execute(data)` or
`render(text, data)` over JSON-shaped data, with errors worded like Go's.

The work is split along the pipeline: template_lex (tokens), template_parse (the tree of
template_nodes), template_exec (evaluation), template_funcs (the callable functions) and
template_gofmt (Go's fmt printing).
"""

from __future__ import annotations

from typing import Any

from .exec import execute
from .funcs import FUNCTION_NAMES
from .lex import TemplateError
from .nodes import ListNode
from .parse import parse_tree

__all__ = ["Template", "TemplateError", "parse", "render"]

# `docker inspect -f T a b c` renders one template per object; keep the few parsed ones around.
_CACHE: dict[tuple[str, str], Template] = {}
_CACHE_SIZE = 64


class Template:
    """A parsed template; immutable, so one instance may be executed any number of times."""

    __slots__ = ("name", "text", "_root")

    def __init__(self, name: str, text: str, root: ListNode) -> None:
        self.name = name
        self.text = text
        self._root = root

    def execute(self, data: Any) -> str:
        """The template's output for `data`; raises TemplateError when evaluation fails."""
        return execute(self.text, self.name, self._root, data)

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


def parse(text: str, name: str = "") -> Template:
    """Parses a template (cached); raises TemplateError on a syntax error. `name` appears in errors."""
    key = (text, name)
    template = _CACHE.get(key)
    if template is None:
        try:
            root = parse_tree(text, name, FUNCTION_NAMES)
        except RecursionError:
            raise TemplateError(f"template: {name}: template nested too deeply") from None
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        template = _CACHE[key] = Template(name, text, root)
    return template


def render(text: str, data: Any, name: str = "") -> str:
    """Parses and executes in one step: `render("{{.Id}}", {"Id": "abc"}) == "abc"`."""
    return parse(text, name).execute(data)
