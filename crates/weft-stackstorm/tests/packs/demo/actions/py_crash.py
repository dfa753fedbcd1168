from st2common.runners.base_action import Action


class Crash(Action):
    def run(self):
        raise RuntimeError("the disk is on fire")
