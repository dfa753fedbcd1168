"""Runs one StackStorm python-script action for weft.

Usage: python3 weft_st2_wrapper.py ACTION_FILE RESULT_FILE

Reads ``{"parameters", "config", "pack", "log_level"}`` as JSON from
stdin, imports ACTION_FILE, finds its action class as StackStorm does (the
first class defined in the file, by name, that has a ``run`` method),
calls ``run(**parameters)`` and writes ``{"result", "status"}`` as JSON to
RESULT_FILE. ``run`` may return the result, or ``(status, result)`` with
``status`` True or False. An exception is printed to stderr and exits 1.
"""

import importlib.util
import inspect
import json
import os
import sys

# StackStorm's exit code for a status that is neither True nor False.
INVALID_STATUS_EXIT_CODE = 220


def _has_run(cls):
    run = getattr(cls, "run", None)
    return callable(run) and not getattr(run, "__isabstractmethod__", False)


def _action_class(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError('cannot load "%s" as a Python module' % path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__ and _has_run(cls)
    ]
    if not classes:
        raise Exception(
            'File "%s" has no action class: define a class with a run() method '
            "(derived from st2common.runners.base_action.Action)" % path
        )
    return classes[0]


def main():
    path, result_path = sys.argv[1], sys.argv[2]
    request = json.load(sys.stdin)
    # The action's own directory first, as StackStorm puts it.
    sys.path.insert(0, os.path.dirname(os.path.realpath(path)))
    from st2common.runners.base_action import _ActionService

    cls = _action_class(path)
    service = _ActionService(request.get("pack", "unknown"), request.get("log_level", "DEBUG"))
    config = request.get("config") or {}
    try:
        action = cls(config=config, action_service=service)
    except TypeError as e:
        if "unexpected keyword argument 'action_service'" not in str(e):
            raise
        action = cls(config=config)
        action.action_service = service

    output = action.run(**(request.get("parameters") or {}))
    if isinstance(output, tuple) and len(output) == 2:
        status, result = output
    else:
        status, result = None, output
    if status is not None and not isinstance(status, bool):
        sys.stderr.write(
            "Status returned from the action run() method must either be True or False, "
            "got: %s\n" % (status,)
        )
        sys.exit(INVALID_STATUS_EXIT_CODE)
    document = {"result": result, "status": status}
    try:
        text = json.dumps(document)
    except (TypeError, ValueError):
        # A result JSON cannot hold: its text, as StackStorm gives it.
        document["result"] = str(result)
        text = json.dumps(document)
    with open(result_path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
