"""The node engines' authorization (layer 3): policy.py judges every Docker API request a
node's dockerd receives; plugin.py serves it as the labapp-authz AuthZ plugin inside the node.
Both files run there on the node's python3 with the standard library only (copied side by
side into /usr/local/lib/labapp/authz/); PLUGIN_FILES names them for the image build."""
from pathlib import Path

from .policy import REFUSALS, Decision, Policy, judge, message

PLUGIN_DIR = Path(__file__).resolve().parent
PLUGIN_FILES = (PLUGIN_DIR / "plugin.py", PLUGIN_DIR / "policy.py")

__all__ = ["PLUGIN_DIR", "PLUGIN_FILES", "REFUSALS", "Decision", "Policy", "judge", "message"]
