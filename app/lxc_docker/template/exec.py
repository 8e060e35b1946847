"""Evaluator for parsed templates: walks the node tree over JSON-shaped data and writes the output,
following Go's text/template semantics for dot, variables, pipelines, nil and missing keys.

Two kinds of "nothing" exist, as in Go on decoded JSON: a missing map key is MISSING (Go's invalid
value) and JSON null is None. A pipeline's result that is None is turned into MISSING, as Go does
when it unwraps an interface{} holding nil, so both print as <no value> from an action, while
functions receive both as nil (print shows <nil>).
"""

from __future__ import annotations

from typing import Any, NoReturn

from .funcs import BUILTINS, MISSING, ArgTypeError, FuncError, truth
from .gofmt import format_value, go_type, sorted_keys
from .lex import TemplateError
from .nodes import (
    ActionNode,
    BranchNode,
    ChainNode,
    CommandNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    ListNode,
    LiteralNode,
    LoopControlNode,
    NilNode,
    Node,
    PipeNode,
    TextNode,
    VariableNode,
)

_NO_FINAL: Any = object()  # no value piped in from a previous command


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def error_location(text: str, name: str, pos: int) -> str:
    """NAME:LINE:COL of a node, COL being Go's byte offset within the line."""
    line_start = text.rfind("\n", 0, pos) + 1
    line = text.count("\n", 0, pos) + 1
    return f"{name}:{line}:{len(text[line_start:pos].encode())}"


class _State:
    def __init__(self, text: str, name: str, data: Any) -> None:
        self.text = text
        self.name = name
        self.vars: list[list[Any]] = [["$", data]]
        self.node: Node | None = None  # the node being evaluated, for error messages
        self.out: list[str] = []

    def error(self, msg: str) -> NoReturn:
        if self.node is None:
            raise TemplateError(f"template: {self.name}: {msg}")
        location = error_location(self.text, self.name, self.node.pos)
        raise TemplateError(f'template: {location}: executing "{self.name}" at <{self.node}>: {msg}')

    # Variables.

    def var_value(self, name: str) -> Any:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        self.error(f"undefined variable: {name}")

    def set_var(self, name: str, value: Any) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        self.error(f"undefined variable: {name}")

    # Statements.

    def walk(self, dot: Any, node: Node) -> None:
        self.node = node
        kind = type(node)
        if kind is TextNode:
            self.out.append(node.text)
        elif kind is ActionNode:
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.out.append(format_value(value))
        elif kind is ListNode:
            for child in node.nodes:
                self.walk(dot, child)
        elif kind is BranchNode:
            if node.kind == "range":
                self.walk_range(dot, node)
            else:
                self.walk_if_or_with(dot, node)
        elif kind is LoopControlNode:
            raise _Break if node.kind == "break" else _Continue
        else:  # pragma: no cover - the parser makes no other statement nodes
            self.error(f"unknown node: {type(node).__name__}")

    def walk_if_or_with(self, dot: Any, node: BranchNode) -> None:
        mark = len(self.vars)
        value = self.eval_pipeline(dot, node.pipe)
        if truth(value):
            self.walk(value if node.kind == "with" else dot, node.list)
        elif node.else_list is not None:
            self.walk(dot, node.else_list)
        del self.vars[mark:]

    def walk_range(self, dot: Any, node: BranchNode) -> None:
        outer_mark = len(self.vars)
        value = self.eval_pipeline(dot, node.pipe)
        decl = node.pipe.decl
        if isinstance(value, (list, tuple)):
            items: Any = enumerate(value)
        elif isinstance(value, dict):
            items = ((key, value[key]) for key in sorted_keys(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            if len(decl) > 1:
                self.error(f"can't use {value} to iterate over more than one variable")
            items = ((i, i) for i in range(value))
        elif value is None or value is MISSING:
            items = ()  # Go treats a nil map or slice as empty
        else:
            self.error(f"range can't iterate over {format_value(value)}")
        mark = len(self.vars)
        ran = False
        for index, elem in items:
            ran = True
            if len(decl) == 1:
                self.set_var(decl[0], elem)
            elif len(decl) == 2:
                self.set_var(decl[0], index)
                self.set_var(decl[1], elem)
            try:
                self.walk(elem, node.list)
            except _Continue:
                pass
            except _Break:
                del self.vars[mark:]
                break
            del self.vars[mark:]
        if not ran and node.else_list is not None:
            self.walk(dot, node.else_list)
        del self.vars[outer_mark:]

    # Expressions.

    def eval_pipeline(self, dot: Any, pipe: PipeNode) -> Any:
        self.node = pipe
        value = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value is None:
                value = MISSING  # Go unwraps an interface{} holding nil into an invalid value
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(name, value)
            else:
                self.vars.append([name, value])
        return value

    def not_a_function(self, args: list[Node], final: Any) -> None:
        if len(args) > 1 or final is not _NO_FINAL:
            self.error(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: Any, cmd: CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        kind = type(first)
        if kind is FieldNode:
            return self.eval_field_chain(dot, dot, first, first.idents, cmd.args, final)
        if kind is ChainNode:
            return self.eval_chain(dot, first, cmd.args, final)
        if kind is IdentifierNode:
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if kind is PipeNode:
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if kind is VariableNode:
            return self.eval_variable(dot, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if kind is LiteralNode:
            return first.value
        if kind is DotNode:
            return dot
        if kind is NilNode:
            self.error("nil is not a command")
        self.error(f"can't evaluate command {first}")  # pragma: no cover

    def eval_arg(self, dot: Any, node: Node) -> Any:
        """An argument's value; a missing value arrives in the function as nil, as in Go."""
        self.node = node
        kind = type(node)
        if kind is LiteralNode:
            return node.value
        if kind is DotNode:
            value = dot
        elif kind is NilNode:
            return None
        elif kind is FieldNode:
            value = self.eval_field_chain(dot, dot, node, node.idents, [node], _NO_FINAL)
        elif kind is VariableNode:
            value = self.eval_variable(dot, node, [node], _NO_FINAL)
        elif kind is PipeNode:
            value = self.eval_pipeline(dot, node)
        elif kind is IdentifierNode:
            value = self.eval_function(dot, node, node, [node], _NO_FINAL)
        elif kind is ChainNode:
            value = self.eval_chain(dot, node, [node], _NO_FINAL)
        else:  # pragma: no cover
            self.error(f"can't handle {node} as an argument")
        return None if value is MISSING else value

    def eval_chain(self, dot: Any, chain: ChainNode, args: list[Node], final: Any) -> Any:
        self.node = chain
        if isinstance(chain.node, PipeNode):
            receiver = self.eval_pipeline(dot, chain.node)
        else:
            receiver = self.eval_arg(dot, chain.node)
        return self.eval_field_chain(dot, receiver, chain, chain.fields, args, final)

    def eval_variable(self, dot: Any, var: VariableNode, args: list[Node], final: Any) -> Any:
        self.node = var
        value = self.var_value(var.idents[0])
        if len(var.idents) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, var.idents[1:], args, final)

    def eval_field_chain(
        self, dot: Any, receiver: Any, node: Node, idents: tuple[str, ...], args: list[Node], final: Any
    ) -> Any:
        self.node = node
        for name in idents[:-1]:
            receiver = self.eval_field(name, [], _NO_FINAL, receiver)
        return self.eval_field(idents[-1], args, final, receiver)

    def eval_field(self, name: str, args: list[Node], final: Any, receiver: Any) -> Any:
        if receiver is MISSING:
            return MISSING  # a field of a missing key is missing too, as in Go
        if receiver is None:
            # Go stops with "nil pointer evaluating interface {}.Name"; a null in an API answer
            # (Config.Cmd, HostConfig.Links) is common enough that we yield nil instead.
            return None
        if isinstance(receiver, dict):
            if len(args) > 1 or final is not _NO_FINAL:
                self.error(f"{name} is not a method but has arguments")
            return receiver.get(name, MISSING)
        self.error(f"can't evaluate field {name} in type {go_type(receiver)}")

    def eval_function(self, dot: Any, ident: IdentifierNode, cmd: Node, args: list[Node], final: Any) -> Any:
        self.node = ident
        name = ident.name
        function = BUILTINS[name]
        arg_nodes = args[1:]
        count = len(arg_nodes) + (final is not _NO_FINAL)
        if function.max_args is None:
            if count < function.min_args:
                self.error(f"wrong number of args for {name}: want at least {function.min_args} got {count}")
        elif count != function.min_args:
            self.error(f"wrong number of args for {name}: want {function.min_args} got {count}")
        if function.call is None:
            return self.eval_and_or(dot, name, arg_nodes, final)
        argv = [self.eval_arg(dot, node) for node in arg_nodes]
        if final is not _NO_FINAL:
            argv.append(None if final is MISSING else final)
        try:
            return function.call(*argv)
        except ArgTypeError as exc:
            self.node = cmd
            self.error(str(exc))
        except FuncError as exc:
            self.node = cmd
            self.error(f"error calling {name}: {exc}")

    def eval_and_or(self, dot: Any, name: str, arg_nodes: list[Node], final: Any) -> Any:
        """`and` and `or` stop at the first argument that decides, and return it."""
        stop_when = name == "or"
        value = None
        for node in arg_nodes:
            value = self.eval_arg(dot, node)
            if truth(value) == stop_when:
                return value
        if final is not _NO_FINAL:
            value = None if final is MISSING else final
        return value


def execute(text: str, name: str, root: ListNode, data: Any) -> str:
    """Runs a parsed template over `data` and returns the output."""
    state = _State(text, name, data)
    try:
        state.walk(data, root)
    except RecursionError:
        raise TemplateError(f"template: {name}: template nested too deeply") from None
    return "".join(state.out)
