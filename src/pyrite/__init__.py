"""pyrite: a Bitcoin full node, miner and wallet in Python, consensus-compatible with Core.

The stable entry point for script verification::

    pyrite.verify_script(script_pubkey, amount, tx, input_index, flags, spent_outputs=None)

raises ``pyrite.ScriptError`` (with ``.code`` set to Core's error name) on failure.
"""

from pyrite.script.errors import ScriptError
from pyrite.script.flags import ScriptFlags
from pyrite.script.verify import verify_script

__version__ = "0.1.0"
__all__ = ["ScriptError", "ScriptFlags", "__version__", "verify_script"]
