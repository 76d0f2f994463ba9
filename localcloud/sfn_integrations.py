"""Complete the local interpreter's Step Functions integration (`states:startExecution.sync:2`, which the
recovery uses to run the approval gate) the way the real service behaves.

Step Functions maps a task's parameters in its own casing (`StateMachineArn`, `Input`, `Name`) onto the
API request (`stateMachineArn`, `input`, `name`) and the API response back (`executionArn` ->
`ExecutionArn`, `output` -> `Output`). moto's interpreter ships the mapping helpers but leaves both steps
out for this integration, so the call fails locally; this installs them from botocore's model of the API.
Only the local interpreter is changed; the definitions are the deployed ones.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)

_original: dict[str, Any] = {}


@cache
def _operation(action: str) -> OperationModel:
    model = botocore.session.get_session().get_service_model("stepfunctions")
    names = {name.lower(): name for name in model.operation_names}
    return model.operation_model(names[action.replace("_", "").lower()])


def install() -> None:
    if _original:
        return
    _original["parameters"] = StateTaskServiceSfn._normalise_parameters
    _original["response"] = StateTaskServiceSfn._normalise_response

    def parameters(
        self: StateTaskServiceSfn,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        _original["parameters"](self, parameters, boto_service_name, service_action_name)
        shape = _operation(self._get_boto_service_action(service_action_name)).input_shape
        if shape is not None:
            self._to_boto_request(parameters, shape)

    def response(
        self: StateTaskServiceSfn,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        _original["response"](self, response, boto_service_name, service_action_name)
        shape = _operation(self._get_boto_service_action(service_action_name)).output_shape
        if shape is not None:
            self._from_boto_response(response, shape)

    StateTaskServiceSfn._normalise_parameters = parameters  # type: ignore[method-assign]
    StateTaskServiceSfn._normalise_response = response  # type: ignore[method-assign,assignment]
