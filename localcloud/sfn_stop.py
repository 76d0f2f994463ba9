"""StopExecution ends an execution at once, as Step Functions does, also while it waits for a task token.

Step Functions (API reference, StopExecution and DescribeExecution): a stopped execution's status is
ABORTED, its history ends with ExecutionAborted, and nothing of it runs afterwards. moto's interpreter marks
the program stopped but leaves a `waitForTaskToken` task blocked until its timeout; the timeout then runs as
a task failure (TaskTimedOut, the state's Catch, ExecutionFailed) and overwrites the stop, so the execution
ends FAILED seconds later. moto also reports the execution RUNNING, with no ExecutionAborted, until its
worker thread returns, which is after any Lambda task in flight ends; Step Functions reports both as soon
as StopExecution answers. This marks the execution ABORTED and records ExecutionAborted at the stop, wakes
the waits of a stopped execution, and records nothing after it. (A Lambda invocation in flight runs to its
end on AWS too; only its result is dropped.) Only the local interpreter is changed; the definitions are
the deployed ones.
"""

from __future__ import annotations

from typing import Any

from moto.stepfunctions.parser.api import ExecutionAbortedEventDetails, ExecutionStatus, HistoryEventType
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext, EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

_original: dict[str, Any] = {}
# Event managers (one per execution, shared by its frames) of executions that were stopped.
_STOPPED_ATTR = "_localcloud_stopped"


def install() -> None:
    if _original:
        return
    _original["set_stop"] = Environment.set_stop
    _original["set_error"] = Environment.set_error
    _original["add_event"] = EventManager.add_event
    _original["stop"] = Execution.stop
    _original["reflect"] = BaseExecutionWorkerCommunication._reflect_execution_status

    def stop(self: Execution, stop_date: Any, error: str | None, cause: str | None) -> None:
        _original["stop"](self, stop_date, error, cause)
        if self.exec_status == ExecutionStatus.RUNNING:
            self.exec_status = ExecutionStatus.ABORTED
            self.stop_date = stop_date

    def reflect(self: BaseExecutionWorkerCommunication) -> None:
        # The worker ends after the stop: the execution keeps the status and date the stop gave it.
        if self.execution.exec_status != ExecutionStatus.ABORTED:
            _original["reflect"](self)

    def set_stop(self: Environment, stop_date: Any, cause: str | None, error: str | None) -> None:
        _original["set_stop"](self, stop_date, cause, error)
        stopped_before = getattr(self.event_manager, _STOPPED_ATTR, False)
        if self.is_frame() or stopped_before or not isinstance(self.program_state(), ProgramStopped):
            return
        # The history ends with ExecutionAborted when StopExecution answers; nothing is recorded after it.
        self.event_manager.add_event(
            context=EventHistoryContext.of_program_start(),
            event_type=HistoryEventType.ExecutionAborted,
            event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's details are total
                executionAbortedEventDetails=ExecutionAbortedEventDetails(error=error, cause=cause)
            ),
        )
        setattr(self.event_manager, _STOPPED_ATTR, True)
        # Every frame of the execution shares its callback pool: wake each task-token wait.
        for endpoint in list(self.callback_pool_manager._pool.values()):
            endpoint.interrupt_all()

    def set_error(self: Environment, error: Any) -> None:
        # A task woken by the stop fails; the execution stays ABORTED.
        if isinstance(self.program_state(), ProgramStopped):
            return
        _original["set_error"](self, error)

    def add_event(
        self: EventManager, context: Any, event_type: HistoryEventType, *args: Any, **kwargs: Any
    ) -> int:
        if getattr(self, _STOPPED_ATTR, False):
            return int(context.last_published_event_id or 0)
        result: int = _original["add_event"](self, context, event_type, *args, **kwargs)
        return result

    Environment.set_stop = set_stop  # type: ignore[method-assign]
    Environment.set_error = set_error  # type: ignore[method-assign]
    EventManager.add_event = add_event  # type: ignore[method-assign]
    Execution.stop = stop  # type: ignore[method-assign]
    BaseExecutionWorkerCommunication._reflect_execution_status = reflect  # type: ignore[method-assign]


def uninstall() -> None:
    if _original:
        Environment.set_stop = _original.pop("set_stop")  # type: ignore[method-assign]
        Environment.set_error = _original.pop("set_error")  # type: ignore[method-assign]
        EventManager.add_event = _original.pop("add_event")  # type: ignore[method-assign]
        Execution.stop = _original.pop("stop")  # type: ignore[method-assign]
        BaseExecutionWorkerCommunication._reflect_execution_status = _original.pop("reflect")  # type: ignore[method-assign]
