"""The Go text/template subset behind `docker inspect --format`.

Expected outputs follow Go's text/template over JSON decoded into interface{} (what Docker 0.9's
client executes templates on), except where a test says we deliberately differ.
"""

import re

import pytest

from lxc_docker.template import Template, TemplateError, parse, render

CONTAINER = {
    "Id": "4f3c2e1d0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d",
    "Name": "/web",
    "State": {"Running": True, "Pid": 4242, "ExitCode": 0},
    "NetworkSettings": {
        "IPAddress": "172.17.0.2",
        "Ports": {
            "8787/tcp": [{"HostIp": "0.0.0.0", "HostPort": "49153"}],
            "22/tcp": [{"HostIp": "0.0.0.0", "HostPort": "49154"}],
        },
    },
    "Config": {"Env": ["A=1", "PATH=/bin"], "Cmd": None, "Labels": {"x": "y"}, "Memory": 0},
    "RepoTags": ["busybox:latest", "busybox:1"],
}


def fails(text: str, data=None) -> str:
    with pytest.raises(TemplateError) as info:
        render(text, CONTAINER if data is None else data)
    return str(info.value)


# -- the examples in the Docker 0.9 documentation and common modern usage ----------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{.NetworkSettings.IPAddress}}", "172.17.0.2"),
        # The documentation's text mangled these two with an extra '{'; these are the intended forms.
        (
            "{{range $p, $conf := .NetworkSettings.Ports}} {{$p}} -> {{(index $conf 0).HostPort}} {{end}}",
            " 22/tcp -> 49154  8787/tcp -> 49153 ",
        ),
        ('{{(index (index .NetworkSettings.Ports "8787/tcp") 0).HostPort}}', "49153"),
        ("{{.State.Running}}", "true"),
        ("{{json .Config}}", '{"Env":["A=1","PATH=/bin"],"Cmd":null,"Labels":{"x":"y"},"Memory":0}'),
        ("{{range .Config.Env}}{{println .}}{{end}}", "A=1\nPATH=/bin\n"),
        ("{{.Name}}", "/web"),
        ('{{index .Config.Labels "x"}}', "y"),
        ("{{len .RepoTags}}", "2"),
        ("{{if eq .State.ExitCode 0}}ok{{else}}bad{{end}}", "ok"),
        ("{{.State.Pid}}", "4242"),
    ],
)
def test_docker_examples(text, expected):
    assert render(text, CONTAINER) == expected


def test_documented_mangled_forms_are_reported_not_crashing():
    assert fails("{{{index $conf 0}.HostPort}}") == 'template: :1: unexpected "{" in command'
    assert fails("{{index .X 0}.HostPort}}") == 'template: :1: unexpected "}" in operand'


# -- text, trim markers, comments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("", ""),
        ("a {{.Name}} b", "a /web b"),
        ("a \n\t {{- .Name -}} \n b", "a/webb"),
        ("a  {{- .Name}}  b", "a/web  b"),
        ("a  {{.Name -}}  b", "a  /webb"),
        ("a{{/* a comment */}}b", "ab"),
        ("a{{/* multi\nline */}}b", "ab"),
        ("a  {{- /* trimmed */ -}}  b", "ab"),
        ("{{-3}}", "-3"),
        ("{{ -3 }}", "-3"),
        ("}} and } are text", "}} and } are text"),
    ],
)
def test_text_trim_and_comments(text, expected):
    assert render(text, CONTAINER) == expected


# -- literals ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{{"a\\tb\\n\\"q\\" \\u00e9\\x41\\101 \\\\"}}', 'a\tb\n"q" éAA \\'),
        ("{{`raw \\n {{ string`}}", "raw \\n {{ string"),
        ("{{42}}", "42"),
        ("{{+7}}", "7"),
        ("{{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}}", "31 15 15 5 1000"),
        ("{{1.5}} {{.5}} {{1.0}} {{1e3}} {{2.5e-7}}", "1.5 0.5 1 1000 2.5e-07"),
        ("{{'a'}} {{'\\n'}}", "97 10"),
        ("{{true}} {{false}}", "true false"),
    ],
)
def test_literals(text, expected):
    assert render(text, {}) == expected


# -- fields, dot, $ and chains --------------------------------------------------------------------------


def test_dot_and_root():
    assert render("{{.}}", "hello") == "hello"
    assert (
        render("{{range .RepoTags}}{{$.Name}}:{{.}} {{end}}", CONTAINER)
        == "/web:busybox:latest /web:busybox:1 "
    )


def test_field_on_non_map_is_an_error():
    assert fails("{{.Name.Foo}}") == (
        'template: :1:2: executing "" at <.Name.Foo>: can\'t evaluate field Foo in type string'
    )
    assert "can't evaluate field Foo in type []interface {}" in fails("{{.RepoTags.Foo}}")
    assert "can't evaluate field X in type int" in fails("{{.State.Pid.X}}")
    assert "can't evaluate field X in type bool" in fails("{{.State.Running.X}}")


def test_missing_keys_and_nulls():
    # Go prints <no value> for a missing key and also for a null that reaches an action, because it
    # unwraps the nil interface{}; inside print and friends the same values show as <nil>.
    assert render("{{.Nope}}", CONTAINER) == "<no value>"
    assert render("{{.Config.Cmd}}", CONTAINER) == "<no value>"
    assert render("{{print .Nope}} {{print .Config.Cmd}}", CONTAINER) == "<nil> <nil>"
    assert render("{{.Nope.Deeper.Still}}", CONTAINER) == "<no value>"
    assert render('{{index .Config.Labels "missing"}}', CONTAINER) == "<no value>"
    assert render('{{print (index .Config.Labels "missing")}}', CONTAINER) == "<nil>"
    assert render("{{json .Nope}}", CONTAINER) == "null"
    assert render("{{range .L}}{{.}},{{print .}};{{end}}", {"L": [None, 1]}) == "<no value>,<nil>;1,1;"


def test_field_of_null_is_lenient():
    # Go stops with "nil pointer evaluating interface {}.Foo"; we yield nil, which prints <no value>.
    assert render("{{.Config.Cmd.Foo}}", CONTAINER) == "<no value>"
    assert render("{{if .Config.Cmd.Foo}}y{{else}}n{{end}}", CONTAINER) == "n"


def test_chain_on_parenthesised_pipeline():
    assert render('{{(index .NetworkSettings.Ports "22/tcp" 0).HostIp}}', CONTAINER) == "0.0.0.0"
    assert render('{{(index .Config.Labels "nope").Deeper}}', CONTAINER) == "<no value>"


def test_field_with_arguments_is_an_error():
    assert "Name is not a method but has arguments" in fails("{{.Name 1}}")
    assert "Name is not a method but has arguments" in fails('{{"x" | .Name}}')


# -- pipelines and functions calls --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{{.Name | printf "%s!"}}', "/web!"),
        ('{{"abc" | upper | printf "%q"}}', '"ABC"'),
        ("{{.RepoTags | len}}", "2"),
        ('{{printf "%s-%s" "a" ("b" | upper)}}', "a-B"),
        ("{{(len .RepoTags)}}", "2"),
        ('{{index .RepoTags 1 | printf "%v"}}', "busybox:1"),
    ],
)
def test_pipelines(text, expected):
    assert render(text, CONTAINER) == expected


def test_piped_value_counts_as_the_last_argument():
    assert render('{{"b" | printf "%s-%s" "a"}}', {}) == "a-b"
    assert fails("{{1 | not 2}}").endswith("at <not>: wrong number of args for not: want 1 got 2")


def test_non_function_given_arguments():
    assert 'can\'t give argument to non-function "a"' in fails('{{"a" 1}}')
    assert "can't give argument to non-function .Name" in fails("{{.Name | (.Name)}}")
    assert "nil is not a command" in fails("{{nil}}")


# -- variables -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{$x := .Name}}{{$x}}", "/web"),
        ("{{$x := 1}}{{$x = 2}}{{$x}}", "2"),
        ("{{$s := .State}}{{$s.Pid}}", "4242"),
        ("{{$n := 0}}{{range .RepoTags}}{{$n = .}}{{end}}{{$n}}", "busybox:1"),
        ("{{with $v := .State}}{{$v.Pid}}{{end}}", "4242"),
        ("{{if $x := .Nope}}yes{{else}}{{print $x}}{{end}}", "<nil>"),
        ("{{range .RepoTags}}{{$y := .}}{{$y}} {{end}}", "busybox:latest busybox:1 "),
        ("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", "21"),
    ],
)
def test_variables(text, expected):
    assert render(text, CONTAINER) == expected


def test_variables_end_with_their_block():
    assert fails("{{if true}}{{$x := 1}}{{end}}{{$x}}") == 'template: :1: undefined variable "$x"'
    assert fails("{{range $i, $e := .RepoTags}}{{end}}{{$e}}") == 'template: :1: undefined variable "$e"'
    assert fails("{{$x = 1}}") == 'template: :1: undefined variable "$x"'
    assert fails("{{$x := $x}}") == 'template: :1: undefined variable "$x"'


# -- if / with / else ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "truthy"),
    [
        (True, True),
        (False, False),
        (0, False),
        (3, True),
        (0.0, False),
        (0.5, True),
        ("", False),
        ("x", True),
        ([], False),
        ([0], True),
        ({}, False),
        ({"a": 1}, True),
        (None, False),
    ],
)
def test_truth(value, truthy):
    assert render("{{if .V}}T{{else}}F{{end}}", {"V": value}) == ("T" if truthy else "F")


def test_if_on_missing_key_is_false():
    assert render("{{if .Nope}}T{{else}}F{{end}}", {}) == "F"


@pytest.mark.parametrize(
    ("n", "expected"),
    [(1, "one"), (2, "two"), (3, "many")],
)
def test_else_if_chain(n, expected):
    text = "{{if eq .N 1}}one{{else if eq .N 2}}two{{else}}many{{end}}"
    assert render(text, {"N": n}) == expected


def test_with_sets_dot_and_has_else():
    assert render("{{with .State}}{{.Pid}}{{end}}", CONTAINER) == "4242"
    assert render("{{with .Config.Cmd}}{{.}}{{else}}no cmd{{end}}", CONTAINER) == "no cmd"
    assert render("{{with .Nope}}a{{else with .State}}{{.ExitCode}}{{end}}", CONTAINER) == "0"


# -- range ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ("{{range .}}[{{.}}]{{end}}", [1, "a", 2.5], "[1][a][2.5]"),
        ("{{range $i, $e := .}}{{$i}}={{$e}} {{end}}", ["a", "b"], "0=a 1=b "),
        ("{{range $e := .}}{{$e}}{{end}}", ["a", "b"], "ab"),
        ("{{range $k, $v := .}}{{$k}}={{$v}};{{end}}", {"b": 2, "a": 1, "c": 3}, "a=1;b=2;c=3;"),
        ("{{range .}}{{.}}{{end}}", {"b": 2, "a": 1}, "12"),
        ("{{range .}}x{{else}}empty{{end}}", [], "empty"),
        ("{{range .}}x{{else}}empty{{end}}", {}, "empty"),
        ("{{range .}}x{{else}}empty{{end}}", None, "empty"),
        ("{{range .Nope}}x{{else}}empty{{end}}", {}, "empty"),
        ("{{range .}}{{.}}{{end}}", 3, "012"),
        ("{{range .}}{{if eq . 2}}{{break}}{{end}}{{.}}{{end}}", [1, 2, 3], "1"),
        ("{{range .}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}", [1, 2, 3], "13"),
        ("{{range $i, $r := .}}{{range $r}}{{$i}}{{.}} {{end}}{{end}}", [["a"], ["b", "c"]], "0a 1b 1c "),
    ],
)
def test_range(text, data, expected):
    assert render(text, data) == expected


def test_break_from_nested_blocks_drops_their_variables():
    text = "{{range .}}{{with $x := .}}{{if eq $x 2}}{{break}}{{end}}{{$x}}{{end}}{{end}}{{$y := 9}}{{$y}}"
    assert render(text, [1, 2, 3]) == "19"


def test_range_assigns_to_existing_variables():
    text = "{{$i := 0}}{{$e := 0}}{{range $i, $e = .}}{{end}}{{$i}} {{$e}}"
    assert render(text, ["a", "b"]) == "1 b"


def test_range_errors():
    assert "range can't iterate over /web" in fails("{{range .Name}}{{end}}")
    assert "range can't iterate over true" in fails("{{range .State.Running}}{{end}}")
    assert fails("{{break}}") == "template: :1: {{break}} outside {{range}}"
    assert fails("{{range .L}}{{else}}{{continue}}{{end}}") == "template: :1: {{continue}} outside {{range}}"
    assert fails("{{range $a, $b, $c := .L}}{{end}}") == "template: :1: too many declarations in range"
    assert fails("{{range $a, .L}}{{end}}") == "template: :1: range can only initialize variables"
    assert fails("{{with $a, $b := .L}}{{end}}") == "template: :1: too many declarations in with"
    assert fails("{{range .L}}{{else if .X}}{{end}}") == "template: :1: unexpected <if> in input"


# -- builtin functions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{and 1 2}}", "2"),
        ("{{and 1 0 2}}", "0"),
        ('{{or 0 ""}}', ""),
        ("{{or 0 3 4}}", "3"),
        ('{{or .Nope "default"}}', "default"),
        ("{{or 1 (index .RepoTags 99)}}", "1"),  # short-circuits: the index is never evaluated
        ("{{and 0 (index .RepoTags 99)}}", "0"),
        ('{{"x" | or ""}}', "x"),
        ("{{not 0}} {{not .RepoTags}}", "true false"),
        ('{{eq 1 1}} {{eq 1 1.0}} {{eq "a" "b"}} {{eq "a" "b" "a"}}', "true true false true"),
        ("{{eq .Nope nil}} {{eq .Name nil}}", "true false"),
        ("{{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge 2 2}}", "true true true false true"),
        ('{{lt "a" "b"}} {{gt 2.5 2}}', "true true"),
        ("{{len .Name}} {{len .Config}} {{len .RepoTags}}", "4 4 2"),
        ('{{len "héllo"}}', "6"),  # bytes, as Go counts
        ('{{index .NetworkSettings.Ports "8787/tcp" 0 "HostPort"}}', "49153"),
        ('{{index "abc" 1}}', "98"),
        ("{{index .RepoTags}}", "[busybox:latest busybox:1]"),
        ("{{slice .Name 1}} {{slice .Name 1 3}} {{slice .RepoTags 1}}", "web we [busybox:1]"),
        ('{{print 1 2 "a" 3 "b" "c"}}', "1 2a3bc"),
        ('{{println 1 "a"}}', "1 a\n"),
        ('{{html "<a href=\'x\'>&\\"</a>"}}', "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;"),
        ('{{js "it\'s <b> \\"q\\" \\\\ \\n"}}', 'it\\\'s \\u003Cb\\u003E \\"q\\" \\\\ \\u000A'),
        ('{{urlquery "a b&c=d/é"}}', "a+b%26c%3Dd%2F%C3%A9"),
        ("{{html 1 2}}", "1 2"),
    ],
)
def test_builtins(text, expected):
    assert render(text, CONTAINER) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{index .RepoTags 5}}", "error calling index: index out of range: 5"),
        ("{{index .RepoTags 2}}", "error calling index: index out of range: 2"),
        ("{{index .RepoTags -1}}", "error calling index: index out of range: -1"),
        ('{{index .RepoTags "a"}}', "error calling index: cannot index slice/array with type string"),
        ("{{index .Config 1}}", "error calling index: value has type int; should be string"),
        ("{{index .Config.Cmd 0}}", "error calling index: index of untyped nil"),
        ("{{index .State.Pid 0}}", "error calling index: can't index item of type int"),
        ("{{len .State.Pid}}", "error calling len: len of type int"),
        ("{{len .Config.Cmd}}", "error calling len: len of nil pointer"),
        ("{{len}}", "wrong number of args for len: want 1 got 0"),
        ("{{len 1 2}}", "wrong number of args for len: want 1 got 2"),
        ("{{not 1 2}}", "wrong number of args for not: want 1 got 2"),
        ("{{printf}}", "wrong number of args for printf: want at least 1 got 0"),
        ("{{eq 1}}", "error calling eq: missing argument for comparison"),
        ('{{eq 1 "1"}}', "error calling eq: incompatible types for comparison"),
        ("{{eq true 1}}", "error calling eq: incompatible types for comparison"),
        ("{{eq .RepoTags .RepoTags}}", "error calling eq: non-comparable type"),
        ("{{lt true false}}", "error calling lt: invalid type for comparison"),
        ("{{lt .Nope 1}}", "error calling lt: invalid type for comparison"),
        ('{{gt "a" 1}}', "error calling gt: incompatible types for comparison"),
        ("{{slice .Name 3 1}}", "error calling slice: invalid slice index: 3 > 1"),
        ("{{slice .Name 9}}", "error calling slice: index out of range: 9"),
        ("{{printf 5}}", "wrong type for value; expected string; got int"),
        ("{{upper .State.Pid}}", "wrong type for value; expected string; got int"),
    ],
)
def test_builtin_errors(text, message):
    error = fails(text)
    assert error.startswith('template: :1:2: executing "" at <')
    assert message in error


# -- Docker's helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{{upper "abc"}} {{lower "ÀBC"}}', "ABC àbc"),
        ('{{title "hello wide-world foo_bar"}}', "Hello Wide-World Foo_bar"),
        ('{{title "mIxEd"}}', "MIxEd"),
        ('{{split "a,b,,c" ","}}', "[a b  c]"),
        ('{{split "ab" ""}}', "[a b]"),
        ('{{join .Config.Env ","}}', "A=1,PATH=/bin"),
        ('{{join (split "a:b" ":") "-"}}', "a-b"),
        ('{{pad "x" 2 1}}|', "  x |"),
        ("{{truncate .Id 12}}", "4f3c2e1d0a9b"),
        (
            "{{json .NetworkSettings.Ports}}",
            '{"8787/tcp":[{"HostIp":"0.0.0.0","HostPort":"49153"}],'
            '"22/tcp":[{"HostIp":"0.0.0.0","HostPort":"49154"}]}',
        ),
        ("{{json .State}}", '{"Running":true,"Pid":4242,"ExitCode":0}'),
        ("{{json .Name}}", '"/web"'),
    ],
)
def test_docker_helpers(text, expected):
    assert render(text, CONTAINER) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a&b>", '"<a&b>"'),  # no HTML escaping, as Docker's json helper
        ('é\u2028\x01\n"\\', '"é\\u2028\\u0001\\n\\"\\\\"'),
        (3.0, "3"),
        (0.5, "0.5"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (-2.5e-7, "-2.5e-7"),
        ([1, None, True, {"k": []}], '[1,null,true,{"k":[]}]'),
    ],
)
def test_json_matches_go_encoding(value, expected):
    assert render("{{json .}}", value) == expected


# -- printing values like Go's fmt ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "text"),
        (42, "42"),
        (-7, "-7"),
        (3.0, "3"),
        (1.5, "1.5"),
        (-2.25, "-2.25"),
        (0.0, "0"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (123456789.0, "1.23456789e+08"),
        (1e21, "1e+21"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (float("inf"), "+Inf"),
        (float("nan"), "NaN"),
        (True, "true"),
        (False, "false"),
        (["a", 1, None, 2.5, [True]], "[a 1 <nil> 2.5 [true]]"),
        ({"b": 1, "a": [1, "x"], "c": None}, "map[a:[1 x] b:1 c:<nil>]"),
        ([], "[]"),
        ({}, "map[]"),
    ],
)
def test_print_value(value, expected):
    assert render("{{.V}}", {"V": value}) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ('"%5.2f|" 3.14159', " 3.14|"),
        ('"%-10s|" "ab"', "ab        |"),
        ('"%10s|" "ab"', "        ab|"),
        ('"%q" "a\\"b\\n"', '"a\\"b\\n"'),
        ('"%x %X %x" 255 255 "hi"', "ff FF 6869"),
        ('"%#x %o %b %#o" 255 8 5 8', "0xff 10 101 010"),
        ('"%d %+d %05d % d" 7 7 -42 7', "7 +7 -0042  7"),
        ('"%v %v %v" 1 "a" .RepoTags', "1 a [busybox:latest busybox:1]"),
        ('"%s" .RepoTags', "[busybox:latest busybox:1]"),
        ('"%t %v" true false', "true false"),
        ('"%e %g %g %.3g" 1234.5678 0.000012 100000.0 1234.5678', "1.234568e+03 1.2e-05 100000 1.23e+03"),
        ('"%f %.1f %8.3f|%-8.2f|" 1.5 0.25 3.14159 2.0', "1.500000 0.2    3.142|2.00    |"),
        ('"%c %U %q" 65 65 65', "A U+0041 'A'"),
        ('"%.3s|%5.1s|" "abcdef" "xyz"', "abc|    x|"),
        (
            '"%T %T %T %T %T %T" 1 1.5 "s" true .RepoTags .State',
            "int float64 string bool []interface {} map[string]interface {}",
        ),
        ('"100%%"', "100%"),
        ('"%d" "a"', "%!d(string=a)"),
        ('"%s" 5', "%!s(int=5)"),
        ('"%s" nil', "%!s(<nil>)"),
        ('"%v" nil', "<nil>"),
        ('"%d %d" 1', "1 %!d(MISSING)"),
        ('"%d" 1 2 "x"', "1%!(EXTRA int=2, string=x)"),
        ('"%"', "%!(NOVERB)"),
        ('"%*d|" 5 42', "   42|"),
        ('"%.2f" 3', "3.00"),  # JSON integers are float64s in Go, so float verbs take them
        ('"%d" 1.5', "%!d(float64=1.5)"),
    ],
)
def test_printf(args, expected):
    assert render("{{printf " + args + "}}", CONTAINER) == expected


# -- parse errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{foo}}", 'template: :1: function "foo" not defined'),
        ("{{.Name | foo}}", 'template: :1: function "foo" not defined'),
        ("{{.Name", "template: :1: unclosed action"),
        ("{{.Name}", "template: :1: bad character U+007D '}'"),
        ("line one\n{{if .X}}\nno end", "template: :3: unexpected EOF"),
        ("{{range .X}}", "template: :1: unexpected EOF"),
        ("a\n{{end}}", "template: :2: unexpected {{end}}"),
        ("{{else}}", "template: :1: unexpected {{else}}"),
        ("{{if 1}}{{else}}{{else}}{{end}}", "template: :1: expected end; found {{else}}"),
        ("{{end 1}}", 'template: :1: unexpected "1" in end'),
        ("{{if}}{{end}}", "template: :1: missing value for if"),
        ("{{}}", "template: :1: missing value for command"),
        ("{{.A | 1}}", "template: :1: non executable command in pipeline stage 2"),
        ("{{.A |}}", 'template: :1: missing command after "|"'),
        ("{{| .A}}", 'template: :1: unexpected "|" in command'),
        ('{{"abc}}', "template: :1: unterminated quoted string"),
        ("{{`abc}}", "template: :1: unterminated raw quoted string"),
        ("{{'a}}", "template: :1: unterminated character constant"),
        ("{{'ab'}}", "template: :1: malformed character constant: 'ab'"),
        ('{{"\\q"}}', 'template: :1: unknown escape sequence \\q in "\\q"'),
        ("{{(.A}}", "template: :1: unclosed left paren"),
        ("{{.A)}}", "template: :1: unexpected right paren"),
        ("{{3x}}", 'template: :1: bad number syntax: "3x"'),
        ("{{0x}}", 'template: :1: illegal number syntax: "0x"'),
        ("{{1.Foo}}", 'template: :1: bad number syntax: "1.F"'),
        ('{{"a".Foo}}', 'template: :1: unexpected . after term "\\"a\\""'),
        ("{{/* no end", "template: :1: unclosed comment"),
        ("{{/* c */ }}", "template: :1: comment ends before closing delimiter"),
        ("{{:}}", "template: :1: expected :="),
        ("{{.X = 1}}", 'template: :1: unexpected "=" in operand'),
        ("{{.A ~}}", 'template: :1: unexpected "~" in operand'),
        ("{{ \x01 }}", "template: :1: unrecognized character in action: U+0001"),
        ('{{template "x"}}', "template: :1: {{template}} is not supported"),
        ("{{if .A}}{{else if}}{{end}}", "template: :1: missing value for if"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(TemplateError) as info:
        parse(text)
    assert str(info.value) == message


def test_parse_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse("{{")


# -- execution error locations -------------------------------------------------------------------------


def test_exec_error_location_is_line_and_byte_column():
    error = fails("first\n  {{.Name.Foo}}")
    assert error == 'template: :2:4: executing "" at <.Name.Foo>: can\'t evaluate field Foo in type string'
    error = fails("é{{.Name.Foo}}")  # Go counts bytes, and é is two
    assert error.startswith("template: :1:4: ")


def test_template_name_appears_in_errors():
    with pytest.raises(TemplateError, match=r'^template: t:1:2: executing "t" at <\.A\.B>'):
        parse("{{.A.B}}", name="t").execute({"A": "s"})
    with pytest.raises(TemplateError, match=r"^template: t:1: "):
        parse("{{end}}", name="t")


# -- the API itself ------------------------------------------------------------------------------------


def test_parse_is_cached_and_reusable():
    template = parse("{{.Name}}-{{len .RepoTags}}")
    assert isinstance(template, Template)
    assert parse("{{.Name}}-{{len .RepoTags}}") is template
    assert template.execute(CONTAINER) == "/web-2"
    assert template.execute({"Name": "/db", "RepoTags": []}) == "/db-0"


def test_execution_does_not_leak_state_between_runs():
    template = parse("{{$n := 0}}{{range .}}{{$n = .}}{{end}}{{$n}}")
    assert template.execute([1, 2]) == "2"
    assert template.execute([]) == "0"


def test_deep_nesting_is_an_error_not_a_crash():
    text = "{{" + "(" * 5000 + "1" + ")" * 5000 + "}}"
    with pytest.raises(TemplateError, match="nested too deeply"):
        parse(text)


def test_whole_template_over_several_lines():
    text = (
        "{{/* a report */ -}}\n"
        "{{range $p, $conf := .NetworkSettings.Ports -}}\n"
        "{{$p}}{{range $conf}} {{.HostIp}}:{{.HostPort}}{{end}}\n"
        "{{end -}}\n"
        "{{with .State}}{{if .Running}}running as {{.Pid}}{{end}}{{end}}"
    )
    assert render(text, CONTAINER) == "22/tcp 0.0.0.0:49154\n8787/tcp 0.0.0.0:49153\nrunning as 4242"


def test_error_messages_never_mention_python():
    for text in ("{{index .RepoTags 9}}", "{{.Name.X}}", "{{len 1}}", "{{printf 1}}", "{{range 1.5}}{{end}}"):
        message = fails(text)
        assert re.match(r'^template: :1:\d+: executing "" at <.+>: ', message), message
        assert "Traceback" not in message and "Error" not in message
