"""weft's stand-in for StackStorm's ``st2common.runners.base_action``.

An action class derives from ``Action`` and implements ``run(**params)``.
It gets ``self.config`` (the pack's config; a missing item is a
``ValueError`` naming it), ``self.logger`` (writing to stderr, as under
StackStorm) and ``self.action_service``, whose datastore methods raise
``NotImplementedError``: weft has no datastore yet.
"""

import abc
import logging
import sys

__all__ = ["Action"]


class _PackConfig(dict):
    """The pack's config: a dict whose missing items are explained."""

    def __init__(self, pack, values):
        super().__init__(values)
        self._pack = pack

    def __getitem__(self, key):
        try:
            return super().__getitem__(key)
        except KeyError:
            raise ValueError(
                'The config of pack "%s" has no item "%s": add it to the '
                "pack's config file" % (self._pack, key)
            ) from None


class _ActionService(object):
    """What StackStorm's ActionService offers; weft has no datastore yet."""

    def __init__(self, pack, log_level):
        self._weft_pack = pack
        self._weft_log_level = log_level

    def _no_datastore(self, *args, **kwargs):
        raise NotImplementedError(
            "the StackStorm datastore (get_value, set_value, list_values, "
            "delete_value) is not available in weft yet"
        )

    get_user_info = _no_datastore
    list_values = _no_datastore
    get_value = _no_datastore
    set_value = _no_datastore
    delete_value = _no_datastore

    @property
    def datastore_service(self):
        self._no_datastore()


_LOGGERS = {}


def _logger(name, level):
    """StackStorm's action logger: ``actions.python.NAME`` to stderr."""
    full = "actions.python.%s" % name
    if full in _LOGGERS:
        return _LOGGERS[full]
    value = getattr(logging, str(level).upper(), logging.DEBUG)
    if not isinstance(value, int):
        value = logging.DEBUG
    logger = logging.getLogger(full)
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(value)
    handler.setFormatter(logging.Formatter("%(name)-12s: %(levelname)-8s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(value)
    logger.propagate = False
    _LOGGERS[full] = logger
    return logger


class Action(abc.ABC):
    """Base class of StackStorm python-script actions."""

    description = None

    def __init__(self, config=None, action_service=None):
        pack = getattr(action_service, "_weft_pack", "unknown")
        level = getattr(action_service, "_weft_log_level", "debug")
        self.config = _PackConfig(pack, config or {})
        self.action_service = action_service
        self.logger = _logger(self.__class__.__name__, level)

    @abc.abstractmethod
    def run(self, **kwargs):
        pass
