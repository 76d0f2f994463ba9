"""Errors a task raises on purpose. The class name becomes the Step Functions error name, so the
state machines retry or catch on these names (see statemachines/tasks.py)."""


class OrchestratorError(Exception):
    """Base class: the message is safe to show an operator (no secrets, names the field or resource)."""


class InvalidInput(OrchestratorError):
    """The execution input or an event does not validate; nothing was changed."""


class Refused(OrchestratorError):
    """The workflow may not run now (wrong lifecycle state, another execution running); nothing changed."""


class PreflightFailed(OrchestratorError):
    """Replication or quota checks failed; nothing was launched."""


class LaunchFailed(OrchestratorError):
    """A critical server of a wave did not launch, or a wave timed out."""


class ValidationFailed(OrchestratorError):
    """Recovered instances did not pass their health checks in time."""


class FailbackFailed(OrchestratorError):
    """Failback did not reach the expected DRS state in time."""


class TransientError(OrchestratorError):
    """A dependency is throttling or briefly unavailable; the state machine retries with backoff."""


class AzureUnavailable(OrchestratorError):
    """Azure Resource Manager or Entra ID did not answer or is throttling (retried by the state machine)."""


class AzureRequestFailed(OrchestratorError):
    """Azure refused the request (credential rejected, resource missing, bad parameters): no retry helps."""


class ReplicationNotRestored(OrchestratorError):
    """Replication Azure -> AWS did not return to CONTINUOUS in time."""


class CleanupIncomplete(OrchestratorError):
    """Drill instances could not be confirmed terminated: an operator must check."""


class OutageNotConfirmed(OrchestratorError):
    """An outage alarm fired but Azure reports the source VMs healthy: no automatic failover."""


class DrsRefused(OrchestratorError):
    """DRS refused a request for a reason a retry does not change (a server already in a job, a bad id)."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"DRS {operation} refused ({code}): {message}")
        self.code = code
