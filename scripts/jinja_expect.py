#!/usr/bin/env python3
"""Jinja expressions answered by Orquesta's own evaluator, for weft's
differential test of its Jinja.

Each expression is evaluated by `orquesta.expressions.jinja.JinjaEvaluator`
(Python's Jinja2 as Orquesta sets it up: sandboxed, StrictUndefined,
trim_blocks and lstrip_blocks, Orquesta's functions as globals and filters)
over one fixed context, with StackStorm's expression functions registered
as StackStorm's Orquesta runner registers them (their Python is in
scripts/st2_functions_expect.py). The expressions are those of StackStorm's
own workflows (its `examples` pack and `orquesta_tests` fixtures) and of
Orquesta's Jinja tests, plus Python's methods on strings, lists and maps
and Jinja's filters, tests and operators as workflows use them.

weft's `crates/weft-stackstorm/tests/jinja_orquesta.rs` checks weft
against the recorded answers, and against fresh ones when this Python is
set in WEFT_ORQUESTA_PYTHON.

Needs: orquesta 1.6 or later (with Jinja2; PyPI's newest is 1.2.0, whose `item()`
fails on Python 3.10 and later: install it from its source), PyYAML, semver,
jsonpath-rw, orjson.

Commands (from the repository root):

    python3 scripts/jinja_expect.py record
        # rewrite crates/weft-stackstorm/tests/jinja/orquesta_jinja.json
    python3 scripts/jinja_expect.py answer
        # the same cases answered now, as JSON on stdout
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import st2_functions_expect as st2  # noqa: E402
from orquesta.expressions import jinja as orquesta_jinja  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(
    ROOT, "crates", "weft-stackstorm", "tests", "jinja", "orquesta_jinja.json"
)

# The workflow's inputs and variables (Orquesta's one context), the task
# whose transitions are evaluated, and the current item.
CONTEXT = {
    "inputs": {
        "foo": "bar",
        "marco": "polo",
        "k1": 101,
        "k2": 1.999,
        "k3": True,
        "k4": [1, 2],
        "k5": {"k": "v"},
        "k6": None,
        "nested": {"foo": "bar"},
        "x": ["a", "b", "c"],
        "y": 5,
        "a1": 2,
        "a2": 3,
        "fee": "{{ ctx().fi }}",
        "fi": "fee-fi-fo-fum",
        "records": [{"k": "v1", "n": 1}, {"k": "v2", "n": 2}],
        "hosts": {"web": "10.0.0.1", "db": "10.0.0.2"},
        "s": "  Hello World  ",
        "csv": "a,b,,c",
        "words": "the quick  brown fox",
        "xs": [3, 1, 3, 2],
        "version": "0.10.1",
        "text": "line one\nline two\n",
        "path": "/var/log/app/out.log",
        "empty": "",
        "zero": 0,
        "nums": [1.5, 2, -3],
    },
    "vars": {
        "data_json_str_1": '{"foo": {"bar": "foobar"}}',
        "data_json_obj_1": {"foo": {"bar": "foobar"}},
        "data_json_obj_2": {"foo": {"bar": "foobar"}},
        "data_json_obj_3": {"foo": {"bar": "foobar"}},
        "data_json_obj_4": {"foo": {"bar": "foobar"}},
        "data_yaml_str_1": "foo:\n  bar: foobar\n",
        "data_yaml_str_2": "foo:\n  bar: foobar\n",
        "none": None,
        "data_list": [{"a": 1, "b": 2}, {"x": 3, "y": 4}],
        "loop": True,
        "this_task_by_name": "task1",
        "this_task_no_arg": "task1",
        "published.field": "value",
        "published.hosts": ["h1", "h2"],
        "vars.key.with.periods": "a.b.c",
        "vars.nested.with.periods": {"nested.periods": "yes"},
    },
    "current_task": {
        "name": "t1",
        "status": "succeeded",
        "result": {
            "result": {"hostname2.domain.tld": {"stdout": "up 3 days", "return_code": 0}},
            "stdout": "done\n",
        },
    },
    "item": {"host": "h1", "port": 22},
}

# Expressions from StackStorm's workflows (contrib/examples and the
# orquesta_tests fixtures): every Jinja one that needs no database
# (`task()` and `st2kv` read StackStorm's; weft's are tested apart).
STACKSTORM = [
    'echo "{{ ctx("loop") }}"; sleep 1',
    '{{ basename("/path/to/some/file.txt") }}',
    '{{ ctx("data_json_str_1") | from_json_string() | to_yaml_string() | from_yaml_string() | to_json_string() }}',
    '{{ ctx("data_json_str_1") }}',
    '{{ ctx("loop") != true }}',
    '{{ ctx("loop") == true }}',
    '{{ ctx("this_task_by_name") }}',
    '{{ ctx("this_task_no_arg") }}',
    "{{ ctx()['published.field'] }}",
    "{{ ctx()['published.hosts'] }}",
    "{{ ctx()['vars.key.with.periods'] }}",
    "{{ ctx()['vars.nested.with.periods']['nested.periods'] }}",
    '{{ dirname("/path/to/some/file.txt") }}',
    '{{ from_json_string(ctx("data_json_str_1")) }}',
    '{{ from_yaml_string(ctx("data_yaml_str_1")) }}',
    '{{ json_dump(ctx("data_json_obj_4")) }}',
    '{{ json_parse(ctx("data_json_str_1")) }}',
    '{{ jsonpath_query(ctx("data_json_obj_2"), "$.foo.bar") }}',
    '{{ regex_match("xyz", "x") }}',
    '{{ regex_replace("xyz", "x", "wx") }}',
    '{{ regex_search("xyz", "y") }}',
    '{{ regex_substring("I live at 668 Infinite Dr", "([0-9]{3} \\w+ (?:Ave|St|Dr))") }}',
    "{{ result().result }}",
    "{{ result().result['hostname2.domain.tld']['stdout'] }}",
    "{{ succeeded() }}",
    "{{ to_human_time_from_seconds(12345) }}",
    '{{ to_json_string(ctx("data_json_obj_2")) }}',
    '{{ to_yaml_string(ctx("data_json_obj_1")) }}',
    '{{ to_yaml_string(ctx("data_list")) }}',
    '{{ use_none("foobar") }}',
    '{{ use_none(ctx("none")) }}',
    '{{ version_bump_major("0.10.0") }}',
    '{{ version_bump_minor("0.10.0") }}',
    '{{ version_bump_patch("0.10.0") }}',
    '{{ version_compare("0.10.0", "0.10.0") }}',
    '{{ version_compare("0.10.0", "0.10.1") }}',
    '{{ version_compare("0.10.1", "0.10.0") }}',
    '{{ version_equal("0.10.0", "0.10.0") }}',
    '{{ version_less_than("0.10.0", "0.9.0") }}',
    '{{ version_match("0.10.1", ">0.10.0") }}',
    '{{ version_more_than("0.9.0", "0.10.0") }}',
    '{{ version_strip_patch("0.10.0") }}',
    '{{ yaml_dump(ctx("data_json_obj_3")) }}',
    '{{ yaml_parse(ctx("data_yaml_str_2")) }}',
]

# Expressions from Orquesta's own Jinja tests
# (orquesta/tests/unit/expressions/test_*jinja*.py).
ORQUESTA = [
    "{% for i in ctx().x %}{{ i }}{% endfor %}",
    "{% for i in ctx().records %}{{ i.k }}{{ ctx().y }}{% endfor %}",
    "{% raw %}{{ ctx().foo }}{% endraw %}",
    "{{ 1 + 2 }}",
    "{{ 1 }}",
    "{{ ctx('foo') }}",
    "{{ ctx().foo }}",
    "foo{{ ctx().foo }}",
    "{{ ctx().foo }} and {{ ctx().marco }}",
    "{{ ctx().foo }} -> {{ ctx().y }}",
    "{{ ctx().k1 }}",
    "{{ ctx().k2 }}",
    "{{ ctx().k3 }}",
    "{{ ctx().k4 }}",
    "{{ ctx().k5 }}",
    "{{ ctx().k6 }}",
    "{{ ctx().nested.foo }}",
    '{{ ctx("nested").foo }}',
    "{{ ctx().x[0] }}",
    '{{ ctx("x")[0] }}',
    "{{ ctx().nested.get('foo') }}",
    '{{ ctx().a1 + ctx("a2") }}',
    "{{ ctx(ctx('foo')) }}",
    "{{ ctx().fee }}",
    "{{ ctx().missing }}",
    "{{ json('{\"a\": 123}') }}",
    "{{ json(123) }}",
    "{{ ctx().a }}{% for i in ctx().x %}{{ i }}{% endfor %}{{ ctx().y }}",
]

# Python's methods on strings, lists and maps, and Jinja as workflows
# write it.
PYTHON = [
    "{{ ctx('hosts').items() | list }}",
    "{{ ctx('hosts').keys() | list }}",
    "{{ ctx('hosts').values() | list }}",
    "{{ ctx('hosts').get('db') }}",
    "{{ ctx('hosts').get('nope', 'none here') }}",
    "{{ ctx('hosts').get('nope') }}",
    "{% for k, v in ctx('hosts').items() %}{{ k }}={{ v }};{% endfor %}",
    "{{ ctx('hosts').items() | length }}",
    "{{ ctx().k5.keys() | first }}",
    "{{ ctx('s').strip() }}",
    "{{ ctx('s').lstrip() }}",
    "{{ ctx('s').rstrip() }}",
    "{{ ctx('s').strip().lower() }}",
    "{{ ctx('s').upper() }}",
    "{{ ctx('s').split() }}",
    "{{ ctx('words').split() }}",
    "{{ ctx('words').split(' ') }}",
    "{{ ctx('csv').split(',') }}",
    "{{ ctx('csv').split(',', 1) }}",
    "{{ 'a b'.split(' ') }}",
    "{{ ctx('s').strip().startswith('Hell') }}",
    "{{ ctx('s').strip().endswith('ld') }}",
    "{{ ctx('path').startswith(('/var', '/tmp')) }}",
    "{{ ctx('s').replace('World', 'there') }}",
    "{{ 'a-b-c'.replace('-', '+', 1) }}",
    "{{ '{}-{}'.format(ctx().y, 'x') }}",
    "{{ '{0}/{1}'.format('a', 'b') }}",
    "{{ '{name}!'.format(name='weft') }}",
    "{{ ','.join(ctx('x')) }}",
    "{{ ''.join(['a', 'b']) }}",
    "{{ 'abcabc'.count('b') }}",
    "{{ ctx('xs').count(3) }}",
    "{{ 'abc'.find('c') }}",
    "{{ 'abc'.find('z') }}",
    "{{ 'hello world'.title() }}",
    "{{ 'hello world'.capitalize() }}",
    "{{ '123'.isdigit() }}",
    "{{ 'abc'.isalpha() }}",
    "{{ 'ABC'.isupper() }}",
    "{{ ctx('text').splitlines() }}",
    "{{ 'xxhixx'.strip('x') }}",
    "{{ ctx('version').split('.')[1] | int + 1 }}",
    "{{ ctx('path').split('/')[-1] }}",
    "{{ ctx('xs').index(1) }}",
    "{{ 'abc'.upper() ~ ctx().foo.upper() }}",
    "{{ ctx().x | length }}",
    "{{ ctx().x | join('-') }}",
    "{{ ctx().x | first }}",
    "{{ ctx().x | last }}",
    "{{ ctx().x | reverse | list }}",
    "{{ ctx().xs | sort }}",
    "{{ ctx().xs | unique | list }}",
    "{{ ctx().xs | sum }}",
    "{{ ctx().xs | max }}",
    "{{ ctx().xs | min }}",
    "{{ ctx().records | map(attribute='k') | list }}",
    "{{ ctx().records | selectattr('n', 'gt', 1) | list }}",
    "{{ ctx().records | rejectattr('n', 'equalto', 1) | map(attribute='k') | list }}",
    "{{ ctx().xs | select('odd') | list }}",
    "{{ ctx().missing | default('fallback') }}",
    "{{ ctx().empty | default('fallback', true) }}",
    "{{ ctx().k6 | default('fallback', true) }}",
    "{{ '42' | int }}",
    "{{ '4.5' | float }}",
    "{{ 3.14159 | round(2) }}",
    "{{ -3 | abs }}",
    "{{ ctx().foo | upper }}",
    "{{ ctx().foo | replace('a', 'o') }}",
    "{{ ctx().foo | string }}",
    "{{ ctx().k1 | string }}",
    "{{ ctx().hosts | dictsort }}",
    "{{ ctx().words | wordcount }}",
    "{{ ctx().foo | length }}",
    "{{ ctx().x is defined }}",
    "{{ ctx().missing is defined }}",
    "{{ ctx().k6 is none }}",
    "{{ ctx().y is number }}",
    "{{ ctx().foo is string }}",
    "{{ ctx().y is odd }}",
    "{{ 'b' in ctx().x }}",
    "{{ 'web' in ctx().hosts }}",
    "{{ 'ell' in ctx().s }}",
    "{{ 7 / 2 }}",
    "{{ 6 / 2 }}",
    "{{ 7 // 2 }}",
    "{{ 7 % 3 }}",
    "{{ 2 ** 10 }}",
    "{{ 'ab' * 3 }}",
    "{{ [1, 2] + [3] }}",
    "{{ 1 < 2 < 3 }}",
    "{{ not ctx().k3 }}",
    "{{ ctx().y > 3 and ctx().foo == 'bar' }}",
    "{{ 'yes' if ctx().k3 else 'no' }}",
    "{{ ctx().zero or 'zero is false' }}",
    "{{ ctx().x[1:] }}",
    "{{ 'hello'[::-1] }}",
    "{{ ctx().x[-1] }}",
    "{{ {'a': 1, 'b': [2, 3]} }}",
    "{{ ('a', 1) }}",
    "{{ none }}",
    "{{ None }}",
    "{{ True }}",
    "{{ 1.0 }}",
    "{{ 1e3 }}",
    "{{ 10000000000000000 }}",
    "{{ 0.1 + 0.2 }}",
    "value: {{ ctx().k4 }}",
    "value: {{ ctx().k5 }}",
    "value: {{ ctx().k6 }}, {{ ctx().k3 }}, {{ ctx().k2 }}",
    "value: {{ ctx().nums }}",
    "{{ ctx().k1 }} ",
    "{% if ctx().k3 %}yes{% else %}no{% endif %}",
    "{% for h in ctx().hosts %}{{ loop.index }}:{{ h }} {% endfor %}",
    "{% set n = ctx().xs | length %}{{ n * 2 }}",
    "{{ item() }}",
    "{{ item('host') }}",
    "{{ item().port + 1 }}",
    "{{ zip(ctx().x, ctx().xs) }}",
    "{{ range(3) | list }}",
    "{{ ctx().hosts | tojson }}",
    "{{ ctx().x | tojson }}",
    "{{ ctx().k2 | int }}",
    "{{ ctx().xs | batch(2) | list }}",
    "{{ ctx().foo ~ '-' ~ ctx().y }}",
    "{{ ctx().foo + ctx().y }}",
    "{{ ctx().nums | map('abs') | list }}",
    "{{ zip(ctx().x, ctx().xs, pad='-') }}",
    "{{ zip(ctx().x) }}",
    "{{ zip(ctx().x, none) }}",
    "{{ ctx('xs').index(7) }}",
    "{{ {'b': 'é<&>\\'', 'a': [1, {'d': 2, 'c': 3}]} | tojson }}",
    "{{ ctx().k5 | tojson(indent=2) }}",
    "{{ 'the quick brown fox jumps over the lazy dog' | truncate(20) }}",
    "{{ 'short' | truncate(20) }}",
    "{{ 123456789 | filesizeformat }}",
    "{{ 1536 | filesizeformat(true) }}",
    "{{ '<b>bold</b> and <i>more</i>' | striptags }}",
    "{{ '%s-%s' % ('a', 'b') }}",
    "{{ 'x=%d' % ctx().y }}",
    "{{ ctx().words.split() | map('capitalize') | join(' ') }}",
    "{{ ctx().foo | regex_replace('b', 'c') }}",
    "{{ ctx().version | version_bump_minor }}",
    "{{ ctx().k5 | to_json_string }}",
    "{{ ctx().k5 | to_yaml_string }}",
    "{{ ctx().path | basename }}",
    "{{ ctx().nested | jsonpath_query('foo') }}",
    "{{ ctx().text | regex_substring('(\\\\w+) two') }}",
]


def cases():
    out = []
    for source, exprs in (("stackstorm", STACKSTORM), ("orquesta", ORQUESTA), ("python", PYTHON)):
        out += [{"expr": e, "from": source} for e in exprs]
    return out


def orquesta_data():
    """The context as Orquesta holds it: inputs and variables in one dict,
    with the conductor's task state for succeeded() and result()."""
    data = dict(CONTEXT["inputs"])
    data.update(CONTEXT["vars"])
    cur = CONTEXT["current_task"]
    data["__current_task"] = {"id": cur["name"], "route": 0, "result": cur["result"]}
    data["__state"] = {
        "tasks": {"%s__r0" % cur["name"]: 0},
        "sequence": [{"id": cur["name"], "route": 0, "status": cur["status"]}],
        "routes": [[]],
    }
    data["__current_item"] = CONTEXT["item"]
    return data


def install_stackstorm_functions():
    """StackStorm's functions, as its Orquesta runner registers them: in
    the catalog of functions (globals) and as filters."""
    evaluator = orquesta_jinja.JinjaEvaluator
    for name, func in st2.FUNCTIONS.items():
        evaluator._custom_functions[name] = func
        evaluator._jinja_env.filters[name] = func


def answer(case):
    evaluator = orquesta_jinja.JinjaEvaluator
    try:
        v = evaluator.evaluate(case["expr"], orquesta_data())
    except Exception as e:
        return dict(case, error="%s: %s" % (type(e).__name__, e))
    ok, j = st2.as_json(v)
    if not ok:
        return dict(case, unrepresentable=repr(v))
    return dict(case, ok=j)


def versions():
    import importlib.metadata as md

    return {
        "python": sys.version.split()[0],
        "orquesta": md.version("orquesta"),
        "jinja2": md.version("jinja2"),
    }


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("record", "answer"):
        sys.exit(__doc__)
    install_stackstorm_functions()
    answered = [answer(c) for c in cases()]
    out = {"versions": versions(), "context": CONTEXT, "cases": answered}
    if sys.argv[1] == "record":
        os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
        with open(FIXTURE, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print("%d cases -> %s" % (len(answered), os.path.relpath(FIXTURE, ROOT)))
    else:
        json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
