"""weft's stand-in for ``st2common.runners``."""
