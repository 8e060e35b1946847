"""The node tree of a parsed template, shared by the parser and the evaluator.

Each node's `str()` is its source form as Go prints it in execution errors (`at <.Foo.Bar>`).
"""

from __future__ import annotations

from typing import Any


class Node:
    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos


class TextNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text

    def __str__(self) -> str:
        return self.text


class ListNode(Node):
    __slots__ = ("nodes",)

    def __init__(self, pos: int, nodes: list[Node]) -> None:
        super().__init__(pos)
        self.nodes = nodes

    def __str__(self) -> str:
        return "".join(str(node) for node in self.nodes)


class FieldNode(Node):
    """.A.B.C evaluated on dot."""

    __slots__ = ("idents",)

    def __init__(self, pos: int, idents: tuple[str, ...]) -> None:
        super().__init__(pos)
        self.idents = idents

    def __str__(self) -> str:
        return "".join("." + ident for ident in self.idents)


class VariableNode(Node):
    """$x or $x.A.B: idents[0] is the variable's name, including the '$'."""

    __slots__ = ("idents",)

    def __init__(self, pos: int, idents: tuple[str, ...]) -> None:
        super().__init__(pos)
        self.idents = idents

    def __str__(self) -> str:
        return ".".join(self.idents)


class ChainNode(Node):
    """(pipeline).A.B: fields taken from the value of a parenthesised pipeline or a function call."""

    __slots__ = ("node", "fields")

    def __init__(self, pos: int, node: Node, fields: tuple[str, ...]) -> None:
        super().__init__(pos)
        self.node = node
        self.fields = fields

    def __str__(self) -> str:
        inner = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return inner + "".join("." + field for field in self.fields)


class IdentifierNode(Node):
    """A function name."""

    __slots__ = ("name",)

    def __init__(self, pos: int, name: str) -> None:
        super().__init__(pos)
        self.name = name

    def __str__(self) -> str:
        return self.name


class DotNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "."


class NilNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "nil"


class LiteralNode(Node):
    """A bool, number or string constant; `text` is how it was written."""

    __slots__ = ("text", "value")

    def __init__(self, pos: int, text: str, value: Any) -> None:
        super().__init__(pos)
        self.text = text
        self.value = value

    def __str__(self) -> str:
        return self.text


class CommandNode(Node):
    __slots__ = ("args",)

    def __init__(self, pos: int, args: list[Node]) -> None:
        super().__init__(pos)
        self.args = args

    def __str__(self) -> str:
        return " ".join(f"({arg})" if isinstance(arg, PipeNode) else str(arg) for arg in self.args)


class PipeNode(Node):
    """[$a[, $b] :=|=] command | command ..."""

    __slots__ = ("decl", "is_assign", "cmds")

    def __init__(self, pos: int, decl: list[str], is_assign: bool, cmds: list[CommandNode]) -> None:
        super().__init__(pos)
        self.decl = decl
        self.is_assign = is_assign
        self.cmds = cmds

    def __str__(self) -> str:
        head = ""
        if self.decl:
            head = ", ".join(self.decl) + (" = " if self.is_assign else " := ")
        return head + " | ".join(str(cmd) for cmd in self.cmds)


class ActionNode(Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: PipeNode) -> None:
        super().__init__(pos)
        self.pipe = pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class BranchNode(Node):
    """{{if}}, {{with}} or {{range}} (`kind`), with an optional {{else}} list."""

    __slots__ = ("kind", "pipe", "list", "else_list")

    def __init__(self, pos: int, kind: str, pipe: PipeNode, body: ListNode, else_list: ListNode | None):
        super().__init__(pos)
        self.kind = kind
        self.pipe = pipe
        self.list = body
        self.else_list = else_list

    def __str__(self) -> str:
        text = "{{" + self.kind + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            text += "{{else}}" + str(self.else_list)
        return text + "{{end}}"


class LoopControlNode(Node):
    """{{break}} or {{continue}} (`kind`)."""

    __slots__ = ("kind",)

    def __init__(self, pos: int, kind: str) -> None:
        super().__init__(pos)
        self.kind = kind

    def __str__(self) -> str:
        return "{{" + self.kind + "}}"
