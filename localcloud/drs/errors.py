"""DRS error responses: the code goes in x-amzn-ErrorType, modeled members in the JSON body.

The HTTP status comes from the error shape's `error.httpStatusCode` in the service model.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(
        self, code: str, message: str, *, headers: dict[str, str] | None = None, **members: Any
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.members = {k: v for k, v in members.items() if v is not None}

    def body(self) -> dict[str, Any]:
        return {"message": self.message, **self.members}


def validation(
    message: str, fields: list[tuple[str, str]] | None = None, reason: str | None = None
) -> ApiError:
    """ValidationException; `fields` are (name, message) pairs for fieldList."""
    field_list = [{"name": name, "message": text} for name, text in fields or []]
    return ApiError(
        "ValidationException",
        message,
        reason=reason or ("fieldValidationFailed" if field_list else "other"),
        fieldList=field_list or None,
    )


def not_found(resource_type: str, resource_id: str) -> ApiError:
    return ApiError(
        "ResourceNotFoundException",
        f"{resource_type} {resource_id} not found",
        resourceId=resource_id,
        resourceType=resource_type,
    )


def conflict(message: str, resource_type: str, resource_id: str) -> ApiError:
    return ApiError("ConflictException", message, resourceId=resource_id, resourceType=resource_type)


def quota_exceeded(message: str, quota_code: str) -> ApiError:
    return ApiError("ServiceQuotaExceededException", message, serviceCode="drs", quotaCode=quota_code)


def throttling(retry_after_seconds: int) -> ApiError:
    # retryAfterSeconds is a header member (Retry-After) in the model, not a body member.
    return ApiError(
        "ThrottlingException",
        "Rate exceeded",
        headers={"Retry-After": str(retry_after_seconds)},
        serviceCode="drs",
    )


def internal(message: str = "Internal server error") -> ApiError:
    return ApiError("InternalServerException", message)
