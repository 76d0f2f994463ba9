"""The DRS quotas in force: the stricter of the configured figures and those Service Quotas applies."""

from __future__ import annotations

from lambdas.quotas import DEFAULT_QUOTAS, DrsQuotas, stricter


def test_an_applied_value_below_the_configured_one_is_in_force() -> None:
    # Earlier published DRS figures: 200 per job and 200 in all jobs.
    in_force = stricter(DEFAULT_QUOTAS, {"max_servers_per_job": 200.0, "max_servers_in_active_jobs": 200.0})
    assert in_force.max_servers_per_job == 100
    assert in_force.max_servers_in_active_jobs == 200
    assert in_force.max_concurrent_jobs == DEFAULT_QUOTAS.max_concurrent_jobs


def test_a_configured_value_below_the_applied_one_stays() -> None:
    configured = DrsQuotas(max_concurrent_jobs=5)
    assert stricter(configured, {"max_concurrent_jobs": 20.0}).max_concurrent_jobs == 5


def test_quotas_service_quotas_did_not_answer_keep_the_configured_value() -> None:
    assert stricter(DrsQuotas(max_servers_per_job=50), {}) == DrsQuotas(max_servers_per_job=50)


def test_a_job_never_plans_more_servers_than_all_jobs_may_hold() -> None:
    in_force = stricter(DEFAULT_QUOTAS, {"max_servers_in_active_jobs": 40.0})
    assert in_force.max_servers_per_job == 40
    assert in_force.max_servers_in_active_jobs == 40


def test_an_applied_zero_is_read_as_one_rather_than_refusing_every_job() -> None:
    assert stricter(DEFAULT_QUOTAS, {"max_concurrent_jobs": 0.0}).max_concurrent_jobs == 1
