"""`drctl failback-image publish` and `check` against the Azure emulator, through the unchanged
azure-storage-blob and azure-mgmt-compute clients: a page-blob upload, a managed image or a gallery image
version made from it (refused as Azure refuses a VHD it does not take), and the plan's image checked."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.compute import ComputeManagementClient

from drctl import vhd
from drctl.image_build import build
from drctl.image_publish import HOOK_VERSION_TAG
from drctl.main import main
from failback_client import HOOK_VERSION
from localcloud.azure import AzureEmulator, AzureTiming
from tests.failback_iso import make_iso
from tests.localcloud.test_azure_emulator import compute_client

SAMPLE = Path(__file__).resolve().parents[2] / "plans" / "sample-plan.json"
SUBSCRIPTION = json.loads(SAMPLE.read_text())["azure"]["subscription_id"]
RG, ACCOUNT = "rg-dr-images", "drimages"


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureEmulator]:
    with AzureEmulator(
        timing=AzureTiming(operation=0.05, create=0.05, poll=0.02), subscription_id=SUBSCRIPTION
    ) as e:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", e.ca_bundle_path)
        # The operator's sign-in: a service principal from the environment, as azure-identity reads it.
        monkeypatch.setenv("AZURE_TENANT_ID", e.tenant_id)
        monkeypatch.setenv("AZURE_CLIENT_ID", e.client_id)
        monkeypatch.setenv("AZURE_CLIENT_SECRET", e.client_secret)
        monkeypatch.setenv("AZURE_AUTHORITY_HOST", e.authority)
        monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
        monkeypatch.setenv("AZURE_RESOURCE_MANAGER_URL", e.resource_manager_url)
        e.seed_storage_account(RG, ACCOUNT, "westeurope")
        yield e


@pytest.fixture(scope="module")
def client_vhd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("image")
    return build(
        make_iso(folder / "livecd.iso"), folder / "drs-failback-client.vhd", progress=lambda _: None
    ).out


def publish_args(emu: AzureEmulator, vhd_path: Path, *extra: str) -> list[str]:
    return ["failback-image", "publish", "--vhd", str(vhd_path), "--resource-group", RG,
            "--location", "westeurope", "--storage-account", ACCOUNT,
            "--blob-endpoint", emu.blob_account_url(ACCOUNT), "--json", *extra]  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def compute(emu: AzureEmulator) -> ComputeManagementClient:
    return compute_client(emu)


def test_publish_to_a_gallery_then_check_the_plan(
    emu: AzureEmulator, client_vhd: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, publish_args(emu, client_vhd, "--gallery", "dr_images", "--image-version", "1.0.0")
    )
    assert (code, err) == (0, "")
    image_id = json.loads(out)["imageId"]
    client = compute(emu)
    version = client.gallery_image_versions.get(RG, "dr_images", "drs-failback-client", "1.0.0")
    definition = client.gallery_images.get(RG, "dr_images", "drs-failback-client")
    assert version.id == image_id and (version.tags or {})[HOOK_VERSION_TAG] == HOOK_VERSION
    assert definition.hyper_v_generation == "V1"
    assert version.storage_profile.os_disk_image.size_in_gb == 1  # the VHD's virtual size, rounded up
    # The page blob holds the VHD byte for byte (zero pages were not sent: they read back as zeros).
    assert emu.blob_content(version.storage_profile.os_disk_image.source.uri) == client_vhd.read_bytes()
    pages = [entry for entry in emu.request_log if entry[0] == "PUT" and entry[1].endswith(client_vhd.name)]
    chunks = -(-client_vhd.stat().st_size // (4 * vhd.MIB))
    assert 0 < len(pages) - 1 < chunks  # one create, then fewer Put Page calls than 4 MiB chunks

    plan = json.loads(SAMPLE.read_text())
    plan["azure"]["failback"]["image_id"] = image_id
    for server in [s for wave in plan["waves"] for s in wave["servers"]]:
        ref = server["azure_vm_id"].split("/")
        emu.seed_vm(ref[4], ref[-1])
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    code, out, _ = run(capsys, ["failback-image", "check", "--plan", str(path)])
    assert code == 0, out
    assert f"boot hook v{HOOK_VERSION}" in out and "generation 1" in out

    emu.seed_vm("rg-shop-prod", "shop-reports", location="northeurope")  # a VM elsewhere: no image there
    code, out, _ = run(capsys, ["failback-image", "check", "--plan", str(path)])
    assert code == 1 and "shop-reports: the VM is in northeurope" in out


def test_check_names_a_missing_image_and_a_foreign_hook_version(
    emu: AzureEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = json.loads(SAMPLE.read_text())
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    code, out, _ = run(capsys, ["failback-image", "check", "--plan", str(path)])
    assert code == 1 and "does not exist" in out
    emu.seed_gallery_image(RG, "dr_images", "drs-failback-client", tags={HOOK_VERSION_TAG: "0"})
    code, out, _ = run(capsys, ["failback-image", "check", "--plan", str(path)])
    assert code == 1 and f"this release expects '{HOOK_VERSION}'" in out


def test_publish_a_managed_image(
    emu: AzureEmulator, client_vhd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, publish_args(emu, client_vhd, "--image-name", "failback-client"))
    assert code == 0
    image = compute(emu).images.get(RG, "failback-client")
    assert image.id == json.loads(out)["imageId"]
    assert image.hyper_v_generation == "V1" and (image.tags or {})[HOOK_VERSION_TAG] == HOOK_VERSION
    assert image.storage_profile.os_disk.blob_uri.endswith(f"/{ACCOUNT}/vhds/{client_vhd.name}")


def test_publish_refuses_a_vhd_azure_would_refuse_before_any_call(
    emu: AzureEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw.vhd"
    raw.write_bytes(bytes(vhd.MIB))
    before = len(emu.request_log)
    code, _, err = run(capsys, publish_args(emu, raw))
    assert code == 2 and "not a VHD Azure accepts" in err and "conectix" in err
    assert len(emu.request_log) == before


def upload_raw(emu: AzureEmulator, name: str, data: bytes) -> str:
    from azure.core.exceptions import ResourceExistsError
    from azure.identity import ClientSecretCredential
    from azure.storage.blob import BlobServiceClient

    credential = ClientSecretCredential(emu.tenant_id, emu.client_id, emu.client_secret,
                                        authority=emu.authority, disable_instance_discovery=True)  # fmt: skip
    service = BlobServiceClient(emu.blob_account_url(ACCOUNT), credential=credential)
    container = service.get_container_client("raw")
    with contextlib.suppress(ResourceExistsError):
        container.create_container()
    blob = container.get_blob_client(name)
    blob.create_page_blob(len(data))
    blob.upload_page(data, offset=0, length=len(data))
    return str(blob.url)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes(vhd.MIB + 512), "Disk is expected to have cookie value 'conectix'"),
        (
            bytes(vhd.MIB + 512 * 2) + vhd.footer_bytes(vhd.MIB + 1024),
            "The size must be a whole number (in MBs)",
        ),
    ],
)
def test_the_emulator_refuses_an_image_from_a_vhd_azure_refuses(
    emu: AzureEmulator, data: bytes, message: str
) -> None:
    from azure.core.exceptions import HttpResponseError

    uri = upload_raw(emu, "bad.vhd", data)
    body: Any = {
        "location": "westeurope",
        "properties": {
            "storageProfile": {"osDisk": {"osType": "Linux", "osState": "Generalized", "blobUri": uri}}
        },
    }
    with pytest.raises(HttpResponseError) as refused:
        compute(emu).images.begin_create_or_update(RG, "bad", body).result()
    assert refused.value.status_code == 400 and message in str(refused.value.message)


def test_the_blob_endpoint_refuses_unaligned_pages(emu: AzureEmulator) -> None:
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as refused:
        upload_raw(emu, "odd.vhd", bytes(1000))
    assert getattr(refused.value, "error_code", None) == "InvalidHeaderValue"
