"""Sandboxes: disposable swarms of real Docker engines, one per learner."""
from .base import (LABEL, ExecResult, Execution, Node, NodeState, Sandbox, SandboxState,
                   TtySession)
from .execstream import Chunk
from .swarm import SwarmSandbox

__all__ = ["LABEL", "Chunk", "ExecResult", "Execution", "Node", "NodeState", "Sandbox",
           "SandboxState", "SwarmSandbox", "TtySession"]
