"""weft's stand-in for StackStorm's ``st2common`` package.

It holds only what a StackStorm ``python-script`` action imports to run
under weft: ``st2common.runners.base_action.Action``.
"""
