"""Injected faults. Callers hold the emulator lock."""

from __future__ import annotations

from dataclasses import dataclass, field

from localcloud.drs import errors


@dataclass
class _Rule:
    remaining: int
    operation: str | None
    error: errors.ApiError


@dataclass
class Faults:
    rules: list[_Rule] = field(default_factory=list)
    failing_launches: set[str] = field(default_factory=set)  # source server ids
    hang_jobs: bool = False

    def throttle_next(self, count: int, retry_after_seconds: int, operation: str | None) -> None:
        self.rules.append(_Rule(count, operation, errors.throttling(retry_after_seconds)))

    def fail_next(self, count: int, operation: str | None) -> None:
        self.rules.append(_Rule(count, operation, errors.internal()))

    def request_error(self, operation: str) -> errors.ApiError | None:
        """The injected error for this request, if a rule still matches it."""
        for rule in self.rules:
            if rule.remaining > 0 and rule.operation in (None, operation):
                rule.remaining -= 1
                return rule.error
        return None

    def clear(self) -> None:
        self.rules.clear()
        self.failing_launches.clear()
        self.hang_jobs = False
