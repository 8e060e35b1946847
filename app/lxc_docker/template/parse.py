"""Parser for the Go text/template subset: turns the lexer's tokens into a small node tree, checking at
parse time what Go checks then (defined functions, declared variables, balanced {{end}}s).
"""

from __future__ import annotations

from typing import NoReturn

from .lex import (
    ASSIGN,
    BOOL,
    CHAR,
    CHARCONST,
    DECLARE,
    DOT,
    EOF,
    FIELD,
    IDENT,
    KEYWORD,
    LEFT,
    LPAREN,
    NIL,
    NUMBER,
    PIPE,
    RAWSTRING,
    RIGHT,
    RPAREN,
    SPACE,
    STRING,
    TEXT,
    VARIABLE,
    TemplateError,
    Token,
    describe,
    go_quote,
    go_unquote,
    lex,
)
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


class _Delim:
    """An {{end}} or {{else}} that closes the list being parsed; never part of the tree."""

    def __init__(self, word: str, pending: str | None = None) -> None:
        self.word = word
        self.pending = pending  # "if" or "with" left unread by {{else if ...}} / {{else with ...}}

    def __str__(self) -> str:
        return "{{" + self.word + "}}"


_OPERAND_START = frozenset(
    (BOOL, CHARCONST, DOT, FIELD, IDENT, NUMBER, NIL, RAWSTRING, STRING, VARIABLE, LPAREN)
)


def parse_number(text: str) -> int | float:
    """The value of a Go number literal: an int unless written as a float (1.0, 1e3, 0x1p4)."""
    body = text.lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    if not body or body.endswith("i"):
        raise ValueError(f"illegal number syntax: {go_quote(text)}")
    prefix = body[:2].lower()
    try:
        if prefix == "0x":
            if "p" in body.lower():
                return sign * float.fromhex(body.replace("_", ""))
            return sign * int(body, 16)
        if prefix in ("0o", "0b"):
            return sign * int(body, 0)
        is_float = any(c in body for c in ".eE")
        if not is_float and len(body) > 1 and body[0] == "0":
            try:
                return sign * int(body.replace("_", ""), 8)  # Go keeps C's leading-zero octal
            except ValueError:
                is_float = True  # "09" is not octal; Go then reads it as a float
        if is_float:
            return sign * float(body)
        return sign * int(body, 10)
    except ValueError:
        raise ValueError(f"illegal number syntax: {go_quote(text)}") from None


class _Parser:
    def __init__(self, text: str, name: str, functions: frozenset[str] | set[str]) -> None:
        self.name = name
        self.functions = functions
        self.tokens = lex(text, name)
        self.i = 0
        self.prev = 0
        self.cur = self.tokens[0]
        self.vars = ["$"]
        self.range_depth = 0

    # Token stream.

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.prev = self.i
        if tok.kind != EOF:
            self.i += 1
        self.cur = tok
        return tok

    def backup(self) -> None:
        self.i = self.prev

    def peek(self) -> Token:
        return self.tokens[self.i]

    def peek_non_space(self) -> Token:
        while self.tokens[self.i].kind == SPACE:
            self.i += 1
        return self.tokens[self.i]

    def next_non_space(self) -> Token:
        self.peek_non_space()
        return self.next()

    def error(self, msg: str) -> NoReturn:
        raise TemplateError(f"template: {self.name}:{self.cur.line}: {msg}")

    def unexpected(self, tok: Token, context: str) -> NoReturn:
        self.error(f"unexpected {describe(tok)} in {context}")

    def expect_right(self, context: str) -> Token:
        tok = self.next_non_space()
        if tok.kind != RIGHT:
            self.unexpected(tok, context)
        return tok

    # Grammar.

    def parse(self) -> ListNode:
        root, _ = self.item_list(top=True)
        return root

    def item_list(self, top: bool) -> tuple[ListNode, _Delim | None]:
        nodes: list[Node] = []
        pos = self.peek().pos
        while True:
            tok = self.next()
            if tok.kind == TEXT:
                nodes.append(TextNode(tok.pos, tok.val))
            elif tok.kind == LEFT:
                node = self.action()
                if isinstance(node, _Delim):
                    if top:
                        self.error(f"unexpected {node}")
                    return ListNode(pos, nodes), node
                nodes.append(node)
            elif tok.kind == EOF:
                if not top:
                    self.error("unexpected EOF")
                return ListNode(pos, nodes), None
            else:
                self.unexpected(tok, "input")

    def action(self) -> Node | _Delim:
        tok = self.peek_non_space()
        if tok.kind != KEYWORD:
            return ActionNode(tok.pos, self.pipeline("command"))
        self.next()
        word = tok.val
        if word == "end":
            self.expect_right("end")
            return _Delim("end")
        if word == "else":
            following = self.peek_non_space()
            if following.kind == KEYWORD and following.val in ("if", "with"):
                return _Delim("else", following.val)
            self.expect_right("else")
            return _Delim("else")
        if word in ("if", "with", "range"):
            return self.control(word, tok)
        if word in ("break", "continue"):
            self.expect_right("{{" + word + "}}")
            if not self.range_depth:
                self.error(f"{{{{{word}}}}} outside {{{{range}}}}")
            return LoopControlNode(tok.pos, word)
        # {{template}}, {{define}} and {{block}} need named templates, which --format has no use for.
        self.error(f"{{{{{word}}}}} is not supported")

    def control(self, word: str, tok: Token) -> BranchNode:
        saved_vars = len(self.vars)
        pipe = self.pipeline(word)
        if word == "range":
            self.range_depth += 1
        body, delim = self.item_list(top=False)
        if word == "range":
            self.range_depth -= 1
        else_list = None
        if delim is not None and delim.word == "else":
            if delim.pending == word:
                # {{if a}}x{{else if b}}y{{end}} is {{if a}}x{{else}}{{if b}}y{{end}}{{end}}: the inner
                # control consumes the one {{end}}.
                keyword = self.next()
                else_list = ListNode(keyword.pos, [self.control(word, keyword)])
            else:
                else_list, delim = self.item_list(top=False)
                if delim is None or delim.word != "end":
                    self.error(f"expected end; found {delim}")
        del self.vars[saved_vars:]
        return BranchNode(tok.pos, word, pipe, body, else_list)

    def declarations(self, context: str) -> tuple[list[Token], bool]:
        """Reads `$x :=`, `$x =` or, for range, `$i, $e :=`; returns the variables and whether it assigns."""
        decl: list[Token] = []
        while True:
            var = self.peek_non_space()
            if var.kind != VARIABLE:
                break
            j = self.i + 1
            while self.tokens[j].kind == SPACE:
                j += 1
            following = self.tokens[j]
            if following.kind in (DECLARE, ASSIGN):
                self.i = j + 1
                decl.append(var)
                return decl, following.kind == ASSIGN
            if following.kind == CHAR and following.val == ",":
                if context != "range" or decl:
                    self.cur = following
                    self.error(f"too many declarations in {context}")
                self.i = j + 1
                decl.append(var)
                continue
            break
        if decl:
            self.error("range can only initialize variables")
        return [], False

    def pipeline(self, context: str) -> PipeNode:
        pos = self.peek_non_space().pos
        decl, is_assign = self.declarations(context)
        cmds: list[CommandNode] = []
        while True:
            tok = self.peek_non_space()
            if tok.kind in (RIGHT, RPAREN):
                if tok.kind == RIGHT:
                    self.next()
                break
            if tok.kind not in _OPERAND_START:
                self.next()
                self.unexpected(tok, context)
            cmd, piped = self.command()
            cmds.append(cmd)
            if piped and self.peek_non_space().kind in (RIGHT, RPAREN):
                self.error('missing command after "|"')
        if not cmds:
            self.error(f"missing value for {context}")
        for stage, cmd in enumerate(cmds[1:], start=2):
            if isinstance(cmd.args[0], (LiteralNode, DotNode, NilNode)):
                self.error(f"non executable command in pipeline stage {stage}")
        names = [var.val for var in decl]
        for var in decl:
            if is_assign and var.val not in self.vars:
                self.cur = var
                self.error(f"undefined variable {go_quote(var.val)}")
        if not is_assign:
            # Declared only now, so `{{$x := $x}}` cannot read the variable it is declaring.
            self.vars.extend(names)
        return PipeNode(pos, names, is_assign, cmds)

    def command(self) -> tuple[CommandNode, bool]:
        """Space-separated operands up to a '|' (consumed) or a closing delimiter or paren (left)."""
        args: list[Node] = []
        pos = self.peek_non_space().pos
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                args.append(operand)
            tok = self.next()
            if tok.kind == SPACE:
                continue
            if tok.kind in (RIGHT, RPAREN):
                self.backup()
                piped = False
                break
            if tok.kind == PIPE:
                piped = True
                break
            self.unexpected(tok, "operand")
        if not args:
            self.error("empty command")
        return CommandNode(pos, args), piped

    def operand(self) -> Node | None:
        node = self.term()
        if node is None or self.peek().kind != FIELD:
            return node
        fields = []
        while self.peek().kind == FIELD:
            fields.append(self.next().val[1:])
        if isinstance(node, FieldNode):
            return FieldNode(node.pos, node.idents + tuple(fields))
        if isinstance(node, VariableNode):
            return VariableNode(node.pos, node.idents + tuple(fields))
        if isinstance(node, (LiteralNode, NilNode, DotNode)):
            self.error(f"unexpected . after term {go_quote(str(node))}")
        return ChainNode(node.pos, node, tuple(fields))

    def term(self) -> Node | None:
        tok = self.next_non_space()
        kind = tok.kind
        if kind == IDENT:
            if tok.val not in self.functions:
                self.error(f"function {go_quote(tok.val)} not defined")
            return IdentifierNode(tok.pos, tok.val)
        if kind == DOT:
            return DotNode(tok.pos)
        if kind == NIL:
            return NilNode(tok.pos)
        if kind == VARIABLE:
            if tok.val not in self.vars:
                self.error(f"undefined variable {go_quote(tok.val)}")
            return VariableNode(tok.pos, (tok.val,))
        if kind == FIELD:
            return FieldNode(tok.pos, (tok.val[1:],))
        if kind == BOOL:
            return LiteralNode(tok.pos, tok.val, tok.val == "true")
        if kind == NUMBER:
            try:
                return LiteralNode(tok.pos, tok.val, parse_number(tok.val))
            except ValueError as exc:
                self.error(str(exc))
        if kind == CHARCONST:
            return LiteralNode(tok.pos, tok.val, self.char_value(tok))
        if kind in (STRING, RAWSTRING):
            try:
                return LiteralNode(tok.pos, tok.val, go_unquote(tok.val))
            except ValueError as exc:
                self.error(str(exc))
        if kind == LPAREN:
            pipe = self.pipeline("parenthesized pipeline")
            close = self.next()
            if close.kind != RPAREN:
                self.error(f"unclosed right paren: unexpected {describe(close)}")
            return pipe
        self.backup()
        return None

    def char_value(self, tok: Token) -> int:
        try:
            value = go_unquote(tok.val)
        except ValueError as exc:
            self.error(str(exc))
        if len(value) != 1:
            self.error(f"malformed character constant: {tok.val}")
        return ord(value)


def parse_tree(text: str, name: str, functions: frozenset[str] | set[str]) -> ListNode:
    """The node tree of a template; `functions` are the names a command may call."""
    return _Parser(text, name, functions).parse()
