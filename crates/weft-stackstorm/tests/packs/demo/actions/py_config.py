from helpers import shout  # from the pack's actions/lib

from st2common.runners.base_action import Action


class ReadConfig(Action):
    def run(self, key):
        self.logger.debug("not shown at INFO")
        self.logger.info("reading %s", key)
        return shout(self.config[key])
