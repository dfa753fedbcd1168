#!/usr/bin/env python3
"""Ask Orquesta's own conductor what a workflow does, for weft's differential test.

Needs a Python that can `import orquesta` (StackStorm's workflow engine; the
PyPI release 1.2.0 does not import on Python 3.11, so install it from its
source). weft's `tests/orquesta_diff.rs` compares weft with the answers this
script records; see docs/orquesta-data-flow.md for what Orquesta computes.

A *case* is a workflow, an outcome for each task and a completion order:

    {"id": "...", "workflow": "<YAML>", "inputs": {},
     "outcomes": {"a": "succeeded", "b": {"status": "failed"},
                  "c": {"status": "succeeded", "result": {"x": 1}},
                  "d": {"statuses": ["failed", "succeeded"]}},
     "order": ["b", "a"],        # optional: which running task completes first
     "order_seed": 7}            # optional: otherwise a seeded random pick

Every task runs a mock action: its result is the explicit `result` when the
outcome gives one, else the action's rendered input (the mock echoes it, so a
task's result shows what it read from the context). `statuses` gives the
status of each attempt of a task (retries), the last one repeating.

The conductor is driven as Orquesta's unit tests and StackStorm's workflow
engine drive it: request RUNNING; then, until nothing runs, mark every task
`get_next_tasks` returns RUNNING and complete one running task (the next
name of `order` that is running, else the pick of a random generator seeded
with `order_seed`, else the oldest), with its status and result. The output
is rendered as StackStorm renders it: the first time the workflow is in a
completed status.

Commands (run from the repository root):

    python3 scripts/orquesta_conduct.py conduct CASE.json    # one case, answer as JSON
    python3 scripts/orquesta_conduct.py generate --seed S --count N
        # N random cases from seed S, with Orquesta's answers (the live test)
    python3 scripts/orquesta_conduct.py record               # rewrite the corpus:
        # tests/orquesta/hand/*.yaml and 300 generated cases -> tests/orquesta/corpus.json
"""

import argparse
import glob
import json
import os
import random
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "tests", "orquesta", "corpus.json")
HAND = os.path.join(ROOT, "tests", "orquesta", "hand")
GENERATED_SEED = 22
GENERATED_COUNT = 300
# A run that completes more task executions than this is cut short (a loop).
MAX_COMPLETIONS = 200


def orquesta_version():
    import orquesta

    return getattr(orquesta, "__version__", "unknown")


# ---------------------------------------------------------------------------
# Driving the conductor


def outcome_of(case, task_id, attempt):
    """(status, explicit result or None) of a task's attempt (0-based)."""
    spec = case["outcomes"].get(task_id, "succeeded")
    if isinstance(spec, str):
        return spec, None
    statuses = spec.get("statuses") or [spec.get("status", "succeeded")]
    status = statuses[min(attempt, len(statuses) - 1)]
    return status, spec.get("result")


def global_conductor_class():
    """Orquesta's conductor with one context for the whole run, as weft has
    it today: every task reads, and `output` shows, everything published so
    far; the publishes of a task's taken transitions run once each, in
    `next` order, each seeing the ones before. Only used to tell which of
    weft's differences come from branch scope."""
    from orquesta import conducting
    from orquesta.expressions import base as expr_base
    from orquesta.utils import dictionary as dict_util
    from orquesta.utils import jsonify as json_util

    class GlobalConductor(conducting.WorkflowConductor):
        def __init__(self, spec, **kwargs):
            super().__init__(spec, **kwargs)
            self._publish_pending = False
            for name in spec.tasks.keys():
                task_spec = spec.tasks.get_task(name)
                task_spec.finalize_context = self._finalizer(task_spec)

        def get_task_context(self, ctx_idxs):
            ctx = {}
            for c in self.workflow_state.contexts:
                ctx = dict_util.merge_dicts(ctx, json_util.deepcopy(c), overwrite=True)
            return ctx

        def make_task_context(self, task_state_entry, task_result=None):
            self._publish_pending = True
            return super().make_task_context(task_state_entry, task_result=task_result)

        def _finalizer(self, task_spec):
            def finalize(next_task_name, task_transition_meta, in_ctx):
                new_ctx = {}
                if self._publish_pending:
                    self._publish_pending = False
                    rolling = json_util.deepcopy(in_ctx)
                    for entry in getattr(task_spec, "next") or []:
                        when = getattr(entry, "when", None)
                        if when and not expr_base.evaluate(when, in_ctx):
                            continue
                        for publish in getattr(entry, "publish") or []:
                            name, expr = list(publish.items())[0]
                            rolling[name] = expr_base.evaluate(expr, rolling)
                            new_ctx[name] = rolling[name]
                return in_ctx, new_ctx, []

            return finalize

    return GlobalConductor


def conduct(case, one_context=False):
    """Orquesta's answer for a case: a dict (see the module doc). With
    `one_context`, the answer of Orquesta's conductor changed to keep one
    context for the whole run (see `global_conductor_class`)."""
    from orquesta import conducting, events, statuses
    from orquesta.specs import native as native_specs

    spec = native_specs.WorkflowSpec(case["workflow"])
    errors = spec.inspect()
    if errors:
        return {"refused": errors}

    cls = global_conductor_class() if one_context else conducting.WorkflowConductor
    conductor = cls(spec, inputs=case.get("inputs") or {})
    conductor.request_workflow_status(statuses.RUNNING)

    order = list(case.get("order") or [])
    rng = random.Random(case.get("order_seed", 0))
    running = []  # (task id, route, rendered input), in the order they started
    attempts = {}  # (task id, route) -> attempts completed
    completed = []
    first_output = None

    while len(completed) < MAX_COMPLETIONS:
        for task in conductor.get_next_tasks():
            actions = task.get("actions") or [{}]
            # A task without `input` gets an empty map, in weft as here.
            rendered = actions[0].get("input") or {}
            conductor.update_task_state(
                task["id"], task["route"], events.ActionExecutionEvent(statuses.RUNNING)
            )
            running.append((task["id"], task["route"], rendered))
        if not running:
            break

        pick = None
        while order and pick is None:
            wanted = order.pop(0)
            pick = next((i for i, r in enumerate(running) if r[0] == wanted), None)
        if pick is None:
            pick = rng.randrange(len(running)) if "order_seed" in case else 0
        task_id, route, rendered = running.pop(pick)

        n = attempts.get((task_id, route), 0)
        attempts[(task_id, route)] = n + 1
        status, result = outcome_of(case, task_id, n)
        if result is None:
            result = rendered
        conductor.update_task_state(
            task_id, route, events.ActionExecutionEvent(status, result=result)
        )
        completed.append(
            {
                "id": task_id,
                "route": list(conductor.workflow_state.routes[route]),
                "status": status,
                "result": result,
            }
        )
        # StackStorm renders the output the first time the workflow is in a
        # completed status, even while tasks still run (a failure).
        if first_output is None and conductor.get_workflow_status() in statuses.COMPLETED_STATUSES:
            conductor.render_workflow_output()
            first_output = conductor.get_workflow_output() or {}

    # The output from the terminal tasks once nothing runs any more.
    conductor.reset_workflow_output()
    conductor.render_workflow_output()

    seen = {}
    for t in completed:
        key = (t["id"], tuple(t["route"]))
        seen[key] = seen.get(key, 0) + 1
    join_reruns = sorted(
        {k[0] for k, n in seen.items() if n > 1 and spec.tasks.is_join_task(k[0])}
    )

    return {
        "status": conductor.get_workflow_status(),
        "output": conductor.get_workflow_output(),
        # Join tasks that completed more than once in one route.
        "join_reruns": join_reruns,
        "first_output": first_output,
        "errors": [
            {k: v for k, v in e.items() if k in ("type", "message", "task_id", "route")}
            for e in conductor.errors
        ],
        "tasks": completed,
        "cut_short": len(completed) >= MAX_COMPLETIONS,
    }


def answer(case):
    """Orquesta's answer, with the one-context variant's under `one_context`."""
    real = conduct(case)
    if "refused" not in real:
        one = conduct(case, one_context=True)
        real["one_context"] = {k: one[k] for k in ("status", "output", "tasks")}
    return real


# ---------------------------------------------------------------------------
# Random workflows


SUCCEEDED = "{{ succeeded() }}"
FAILED = "{{ failed() }}"


def generate(seed):
    """A random case from `seed`: parallel branches, joins, splits, failures
    handled or not, publishes that clash, `noop`/`fail`, and an output that
    reads every variable. Only `{{ }}` expressions, all of them defined."""
    rng = random.Random(seed)
    n = rng.randint(3, 8)
    names = ["t%d" % i for i in range(n)]
    variables = ["v%d" % i for i in range(rng.randint(1, 3))]
    tasks = {name: {"action": "mock"} for name in names}
    inbound = {name: set() for name in names}

    def value(task):
        r = rng.random()
        if r < 0.35:
            return task
        if r < 0.6:
            return "{{ result().r }}"
        if r < 0.85:
            return "{{ ctx('%s') }}+%s" % (rng.choice(variables), task)
        return "{{ result().saw }}"

    for i, name in enumerate(names):
        tasks[name]["input"] = {"r": name, "saw": "{{ ctx('%s') }}" % rng.choice(variables)}
        later = names[i + 1 :]
        transitions = []
        for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3])):
            t = {}
            r = rng.random()
            if r < 0.5:
                t["when"] = SUCCEEDED
            elif r < 0.7:
                t["when"] = FAILED
            if rng.random() < 0.6:
                t["publish"] = [
                    {v: value(name)}
                    for v in rng.sample(variables, rng.randint(1, len(variables)))
                ]
            r = rng.random()
            if later and r < 0.75:
                t["do"] = rng.sample(later, min(len(later), rng.choice([1, 1, 2, 2, 3])))
            elif r < 0.85:
                t["do"] = ["noop"]
            elif r < 0.89:
                t["do"] = ["fail"]
            if not t:
                continue
            transitions.append(t)
            for target in t.get("do", []):
                if target in inbound:
                    inbound[target].add(name)
        if transitions:
            tasks[name]["next"] = transitions

    # Most tasks with several inbound tasks join (all or N); the others split.
    for name in names:
        k = len(inbound[name])
        if k >= 2:
            r = rng.random()
            if r < 0.5:
                tasks[name]["join"] = "all"
            elif r < 0.8:
                tasks[name]["join"] = rng.randint(1, k)

    outcomes = {}
    for name in names:
        outcomes[name] = "failed" if rng.random() < 0.15 else "succeeded"

    workflow = {
        "version": 1.0,
        "vars": [{v: "init"} for v in variables],
        "tasks": tasks,
        "output": [{v: "{{ ctx('%s') }}" % v} for v in variables],
    }
    return {
        "id": "gen-%d" % seed,
        "workflow": yaml.safe_dump(workflow, sort_keys=False, width=200),
        "outcomes": outcomes,
        "order_seed": seed,
    }


def generate_answered(seed, count):
    """`count` cases from consecutive seeds that Orquesta's inspection
    accepts and that finish, each with Orquesta's answer."""
    cases = []
    s = seed
    while len(cases) < count:
        case = generate(s)
        s += 1
        reply = answer(case)
        if "refused" in reply or reply["cut_short"]:
            continue
        case["answer"] = reply
        cases.append(case)
    return cases


# ---------------------------------------------------------------------------
# The corpus


def hand_cases():
    cases = []
    for path in sorted(glob.glob(os.path.join(HAND, "*.yaml"))):
        with open(path) as f:
            doc = yaml.safe_load(f)
        case = {"id": os.path.splitext(os.path.basename(path))[0]}
        case.update(doc)
        cases.append(case)
    return cases


def record():
    cases = []
    for case in hand_cases():
        reply = answer(case)
        if "refused" in reply:
            sys.exit("%s: Orquesta refuses the workflow: %s" % (case["id"], reply["refused"]))
        case["answer"] = reply
        cases.append(case)
    cases += generate_answered(GENERATED_SEED * 1000, GENERATED_COUNT)
    corpus = {
        "orquesta": orquesta_version(),
        "recorded_with": "scripts/orquesta_conduct.py record",
        "cases": cases,
    }
    with open(CORPUS, "w") as f:
        json.dump(corpus, f, indent=1, sort_keys=False)
        f.write("\n")
    print("%d cases (%d written by hand) -> %s" % (len(cases), len(cases) - GENERATED_COUNT, CORPUS))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("conduct", help="answer one case (a JSON or YAML file)")
    one.add_argument("case")
    gen = sub.add_parser("generate", help="random cases with Orquesta's answers")
    gen.add_argument("--seed", type=int, required=True)
    gen.add_argument("--count", type=int, default=50)
    sub.add_parser("record", help="rewrite tests/orquesta/corpus.json")
    args = parser.parse_args()

    if args.command == "conduct":
        with open(args.case) as f:
            case = yaml.safe_load(f)
        json.dump(answer(case), sys.stdout, indent=1)
        print()
    elif args.command == "generate":
        cases = generate_answered(args.seed, args.count)
        json.dump({"orquesta": orquesta_version(), "cases": cases}, sys.stdout)
        print()
    else:
        record()


if __name__ == "__main__":
    main()
