from st2common.runners.base_action import Action


class Login(Action):
    def run(self, user, password):
        print("logging in %s with %s" % (user, password))
        return {"user": user, "token": "%s:%s:%s" % (user, password, self.config["api_key"])}
