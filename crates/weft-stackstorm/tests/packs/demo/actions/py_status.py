import sys

from st2common.runners.base_action import Action


class Status(Action):
    def run(self, ok):
        sys.stdout.write("checked\n")
        if ok:
            return (True, {"ok": True})
        return (False, {"why": "not ok"})
