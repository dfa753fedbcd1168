#!/usr/bin/env python3
"""Computes what Orquesta's YAQL gives for weft's differential YAQL suite.

Reads crates/weft-core/tests/yaql/context.json (the fixed context) and
crates/weft-core/tests/yaql/expressions.txt (one workflow string per line;
`#` starts a comment line), evaluates every string with the `yaql` library
set up as Orquesta sets it up, and writes crates/weft-core/tests/yaql/
corpus.json: the context and, per string, the JSON value or the error.

The setup replicated (facts about Orquesta, written here anew):

* one engine, `yaql.language.factory.YaqlFactory().create()`, and one
  context from `yaql.create_context()`, on which Orquesta registers its
  functions `ctx`, `json`, `zip`, `item`, `task_status`, `succeeded`,
  `failed`, `completed` and `result` (as functions, not methods);
* the data is converted with `yaql.language.utils.convert_input_data` and
  stored as `__vars`; `__current_task` and `__current_item` beside it;
* an expression is the text between `<%` and the first `%>` on its line,
  stripped of `<`, `%`, `>` and then whitespace; a string that is one
  expression gets the expression's value, anything else gets each value
  printed with Python's `str()`.

Usage:
    python3 scripts/yaql_expect.py            # rewrite corpus.json
    python3 scripts/yaql_expect.py --check    # compare with corpus.json
    python3 scripts/yaql_expect.py --stdout   # print the corpus instead
    python3 scripts/yaql_expect.py --orquesta # also compare with the
                                              # `orquesta` package's own
                                              # evaluator, when installed

`yaql` installs from PyPI (`pip install yaql`); `--orquesta` needs
`pip install orquesta`.
"""

import collections.abc  # noqa: F401  (yaql 3.x reads collections.abc)
import itertools
import json
import math
import os
import re
import sys

import yaql
from yaql.language import utils as yaql_utils

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = os.path.join(HERE, "..", "crates", "weft-core", "tests", "yaql")

EXPR = re.compile("<%.*?%>")


class Undefined(Exception):
    """A name the context does not hold."""


def make_functions():
    """Orquesta's context functions, reading the keys it stores."""

    def ctx_(context, key=None):
        data = context["__vars"]
        if key:
            if key not in data:
                raise Undefined('The variable "%s" is undefined.' % key)
            if key.startswith("__"):
                raise Undefined('The variable "%s" is not accessible.' % key)
            return data[key]
        return {k: v for k, v in data.items() if not k.startswith("__")}

    def current_task(context):
        task = context["__current_task"]
        if not task:
            raise Undefined("The current task is not set in the context.")
        return task

    def status_of(context, name):
        statuses = context["__vars"].get("__statuses") or {}
        return statuses.get(name)

    def task_status_(context, task_id):
        return status_of(context, task_id)

    def succeeded_(context):
        return current_task(context)["status"] == "succeeded"

    def failed_(context):
        return current_task(context)["status"] in ("failed",)

    def completed_(context):
        return current_task(context)["status"] in (
            "succeeded",
            "failed",
            "expired",
            "abandoned",
            "canceled",
        )

    def result_(context):
        return current_task(context).get("result")

    def item_(context, key=None):
        item = context["__current_item"]
        if not key:
            return item
        if not isinstance(item, collections.abc.Mapping):
            raise Undefined("Item is not type of collections.abc.Mapping.")
        if key not in item:
            raise Undefined('Item does not have key "%s".' % key)
        return item[key]

    def json_(s):
        if isinstance(s, dict):
            return s
        if not isinstance(s, str):
            raise TypeError("Given object is not typeof string.")
        return json.loads(s)

    def zip_(*args, **kwargs):
        args = [[] if a is None else a for a in args]
        if len(args) == 1:
            return args[0]
        pad = kwargs.pop("pad", None)
        return list(itertools.zip_longest(*args, fillvalue=pad))

    return {
        "ctx": ctx_,
        "json": json_,
        "zip": zip_,
        "item": item_,
        "task_status": task_status_,
        "succeeded": succeeded_,
        "failed": failed_,
        "completed": completed_,
        "result": result_,
    }


ENGINE = yaql.language.factory.YaqlFactory().create()
ROOT = yaql.create_context()
for _name, _func in make_functions().items():
    ROOT.register_function(_func, name=_name)


def merged(fixture):
    """Inputs, then variables over them, keys in order (weft's `ctx()`
    lists them sorted; Orquesta in the order the context was built)."""
    data = dict(fixture["parameters"])
    data.update(fixture["variables"])
    return dict(sorted(data.items()))


def contextualize(fixture):
    data = merged(fixture)
    data["__statuses"] = fixture.get("task_statuses", {})
    ctx = ROOT.create_child_context()
    ctx["__vars"] = yaql_utils.convert_input_data(data)
    task = fixture.get("current_task")
    ctx["__current_task"] = yaql_utils.convert_input_data(task) if task else None
    item = fixture.get("current_item")
    ctx["__current_item"] = yaql_utils.convert_input_data(item)
    return ctx


def strip(expr):
    return expr.strip("<%>").strip()


def evaluate(text, ctx):
    """Orquesta's evaluation of one string, without evaluating a string
    result again (weft does not; see docs/workflow-language.md)."""
    exprs = EXPR.findall(text)
    output = text
    for expr in exprs:
        result = ENGINE(strip(expr)).evaluate(context=ctx)
        if len(exprs) > 1 or len(output) > len(expr):
            output = output.replace(expr, str(result))
        else:
            output = result
    return output


def encode(value):
    """A result as JSON: sets as {"$set": [...]}, since JSON has none."""
    if isinstance(value, (set, frozenset)):
        items = [encode(v) for v in value]
        return {"$set": sorted(items, key=lambda v: json.dumps(v, sort_keys=True))}
    if isinstance(value, dict):
        return {json.dumps(k) if not isinstance(k, str) else k: encode(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("the result is %r, which JSON cannot hold" % value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError("the result is a %s, which has no JSON form" % type(value).__name__)


def expect(text, ctx):
    try:
        value = evaluate(text, ctx)
        return {"value": encode(value)}
    except Exception as e:  # noqa: BLE001 - every error is an expectation
        # Without object addresses, which change from run to run.
        message = re.sub(r" at 0x[0-9a-f]+", "", str(e))[:200]
        return {"error": "%s: %s" % (type(e).__name__, message)}


def read_expressions():
    with open(os.path.join(SUITE, "expressions.txt"), encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    return [line for line in lines if line.strip() and not line.startswith("#")]


def compute():
    with open(os.path.join(SUITE, "context.json"), encoding="utf-8") as f:
        fixture = json.load(f)
    ctx = contextualize(fixture)
    cases = [dict(expr=text, **expect(text, ctx)) for text in read_expressions()]
    return {"yaql": yaql.__version__, "context": fixture, "cases": cases}


def orquesta_check(corpus):
    """Compares with the `orquesta` package's own evaluator."""
    from orquesta.expressions import yql

    fixture = corpus["context"]
    data = merged(fixture)
    task = fixture.get("current_task")
    statuses = fixture.get("task_statuses", {})
    names = sorted(set(statuses) | ({task["id"]} if task else set()))
    data["__state"] = {
        "tasks": {"%s__r0" % n: i for i, n in enumerate(names)},
        "sequence": [
            {"status": task["status"] if task and n == task["id"] else statuses.get(n)}
            for n in names
        ],
        "routes": [[]],
    }
    if task:
        data["__current_task"] = {"id": task["id"], "route": 0, "result": task["result"]}
    data["__current_item"] = fixture.get("current_item")
    differ = 0
    for case in corpus["cases"]:
        try:
            got = {"value": encode(yql.YAQLEvaluator.evaluate(case["expr"], data))}
        except Exception as e:  # noqa: BLE001
            got = {"error": "%s: %s" % (type(e).__name__, e)}
        same = ("error" in got) == ("error" in case) and (
            "error" in got or got["value"] == case["value"]
        )
        if not same:
            differ += 1
            want = case.get("value", case.get("error"))
            print("differs from orquesta: %s: %s, here %s" % (case["expr"], got, want))
    return differ


def main():
    corpus = compute()
    path = os.path.join(SUITE, "corpus.json")
    if "--stdout" in sys.argv:
        json.dump(corpus, sys.stdout, ensure_ascii=False)
        return 0
    if "--check" in sys.argv:
        with open(path, encoding="utf-8") as f:
            old = json.load(f)
        if old["cases"] != corpus["cases"] or old["context"] != corpus["context"]:
            print("corpus.json is out of date: run scripts/yaql_expect.py")
            return 1
        print("corpus.json matches yaql %s (%d cases)" % (yaql.__version__, len(corpus["cases"])))
    else:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(corpus, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print("wrote %d cases to %s" % (len(corpus["cases"]), os.path.relpath(path)))
    if "--orquesta" in sys.argv:
        return 1 if orquesta_check(corpus) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
