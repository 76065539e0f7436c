"""Type stubs of the compiled part of roofsim (``python/src/lib.rs``)."""

from typing import List, Tuple

__version__: str

class RoofsimError(Exception):
    """A roofsim job failed: writing its outputs, or a fault of roofsim itself."""

class ConfigError(RoofsimError):
    """Bad input: the command line's one-line message naming the file and the field."""

def run(args: List[str]) -> Tuple[str, List[str]]:
    """Runs ``roofsim ARGS...``: what it prints and the paths of the files it wrote."""
