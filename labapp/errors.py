"""The error family of labapp: every error carries a message a user can act on."""


class LabappError(Exception):
    """Base of every error labapp reports to a user (one line, no traceback)."""

    hint = ""

    def __init__(self, message, hint=None):
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def __str__(self):
        message = super().__str__()
        return f"{message}; {self.hint}" if self.hint else message


class EngineUnavailable(LabappError):
    """The Docker engine labapp talks to does not answer."""

    hint = "start Docker (make run / make test start one on Debian as root) or set DOCKER_HOST"


class ImageMissing(LabappError):
    """An image labapp needs is not on the engine."""

    hint = "run 'labapp images build' (make run and make test do it)"


class ImageBuildError(LabappError):
    """An image could not be built."""


class SandboxError(LabappError):
    """Base of the errors about a sandbox."""


class SandboxNotFound(SandboxError):
    """No sandbox has that id."""

    hint = "'labapp sandbox ls' lists the sandboxes that exist"


class NodeNotFound(SandboxError):
    """The sandbox has no node of that name."""


class NodeDead(SandboxError):
    """A node container is not running (it died or was removed)."""

    hint = "reset the sandbox ('labapp sandbox down ID' and 'labapp sandbox up')"


class SandboxCreateError(SandboxError):
    """A sandbox could not be made; whatever was made for it has been removed."""


class ExecError(SandboxError):
    """A command could not be run on a node."""
