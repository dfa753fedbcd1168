from st2common.runners.base_action import Action


class EchoParams(Action):
    def run(self, **params):
        return params
