"""The local cloud's process: its settings, the environment variables it sets for the handlers (they run in
this process), moto and the DRS and Azure emulators it serves, and the patches that make moto act as the
real services do. stop() undoes what start() did."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import boto3
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

from lambdas.adapters import azure_compute, service_quotas
from lambdas.adapters.aws import reset_clients
from lambdas.quotas import DEFAULT_QUOTAS, DrsQuotas
from localcloud import atomic_dynamodb, payload_limits, sfn_integrations, sfn_stop, timescale
from localcloud import service_quotas as local_service_quotas
from localcloud.azure import AzureEmulator, AzureTiming
from localcloud.drs import DrsEmulator, DrsTiming
from localcloud.guests import Guests
from localcloud.iam import LocalIam

REGION = "us-east-1"


@dataclass
class LocalCloudSettings:
    time_scale: float = 60.0
    # Handler log level in the local process (the deployed functions log at INFO).
    log_level: str = "INFO"
    # The functions print CloudWatch metrics (EMF) to stdout, as in Lambda; a terminal demo hides them.
    print_metrics: bool = True
    drs_timing: DrsTiming = field(default_factory=DrsTiming)
    # The emulated account's DRS job quotas (DRS's defaults unless a test emulates another account).
    drs_quotas: DrsQuotas = DEFAULT_QUOTAS
    # Whether Service Quotas answers those quotas (an account or region where it lists none: False).
    drs_quotas_published: bool = True
    azure_timing: AzureTiming = field(default_factory=AzureTiming)
    # Scheduled rules and Scheduler schedules: "scaled" fire on a clock running time_scale times faster than
    # real time; "manual" fire only when a test moves the clock (cloud.clock.advance), so a test decides when.
    schedules: Literal["scaled", "manual"] = "manual"


class Environment:
    """Environment variables set in this process; restore() puts back what each was before."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self._saved: dict[str, str | None] = {}

    def set(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved.setdefault(name, os.environ.get(name))
            os.environ[name] = value
            self.values[name] = value

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()


class Clients:
    """boto3 clients for the local cloud, cached (building one parses the service model)."""

    def __init__(self, region: str) -> None:
        self._region = region
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                session: Any = boto3.session.Session()
                self._clients[service] = session.client(service, region_name=self._region)
            return self._clients[service]


class Patch(Protocol):
    def install(self) -> None: ...

    def uninstall(self) -> None: ...


@dataclass(frozen=True)
class Emulators:
    azure: AzureEmulator
    guests: Guests
    iam: LocalIam
    drs: DrsEmulator


class LocalProcess:
    """moto and the emulators on loopback ports, the AWS and Azure endpoints in the environment, moto
    patched; `patches` are installed last and uninstalled first."""

    def __init__(
        self,
        settings: LocalCloudSettings,
        subscription_id: str | None,
        drs_event_sink: Callable[[dict[str, Any]], None],
        patches: Sequence[Patch],
    ) -> None:
        self.settings = settings
        self.env = Environment()
        self.emulators: Emulators | None = None
        self._subscription_id = subscription_id
        self._drs_event_sink = drs_event_sink
        self._patches = patches
        self._moto: ThreadedMotoServer | None = None

    def start(self) -> Emulators:
        moto_url = self._start_moto()
        subscription = {} if self._subscription_id is None else {"subscription_id": self._subscription_id}
        azure = AzureEmulator(timing=self.settings.azure_timing, **subscription)
        guests = Guests(azure)
        iam = LocalIam({})
        drs = DrsEmulator(
            ec2_endpoint_url=moto_url,
            region=REGION,
            timing=self.settings.drs_timing,
            event_sink=self._drs_event_sink,
            machines=guests,
            authorizer=iam,
            quotas=self.settings.drs_quotas,
        )
        self.emulators = Emulators(azure=azure, guests=guests, iam=iam, drs=drs)
        drs.start()
        azure.start()
        guests.install()
        self.env.set({"AWS_ENDPOINT_URL_DRS": drs.url, "REQUESTS_CA_BUNDLE": azure.ca_bundle_path})
        _reset_handler_caches()
        local_service_quotas.install(self.settings.drs_quotas, published=self.settings.drs_quotas_published)
        timescale.install(self.settings.time_scale)
        atomic_dynamodb.install()
        sfn_integrations.install()
        payload_limits.install()
        sfn_stop.install()
        for patch in self._patches:
            patch.install()
        return self.emulators

    def _start_moto(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # The interpreter logs every caught task failure as an error; the execution history has them.
        logging.getLogger("moto").setLevel(logging.ERROR)
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        # moto's backends live in this process: start each local cloud from an empty account.
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        port = self._moto._server.server_port  # type: ignore[union-attr]
        moto_url = f"http://127.0.0.1:{port}"
        default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
        self.env.set(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ENDPOINT_URL": moto_url,
                "MOTO_PORT": str(port),
            }
        )
        return moto_url

    def stop(self) -> None:
        # The emulators first: their background work must not outlive the patches it relies on.
        if self.emulators is not None:
            self.emulators.drs.stop()
            self.emulators.azure.stop()
            self.emulators.guests.close()
        for patch in reversed(self._patches):
            patch.uninstall()
        sfn_stop.uninstall()
        payload_limits.uninstall()
        atomic_dynamodb.uninstall()
        timescale.uninstall()
        local_service_quotas.uninstall()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self.env.restore()
        _reset_handler_caches()


def _reset_handler_caches() -> None:
    """The handlers' cached clients and lookups belong to the endpoints they were made for."""
    reset_clients()
    azure_compute.reset_caches()
    service_quotas.reset_cache()
