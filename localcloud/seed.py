"""Seed the local cloud with what a plan expects to exist: DRS source servers replicating, the Azure
source VMs and failback-client image, the Route 53 zone and record, and the Azure credential secret."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.route53.models import HostedZoneIdentifier
from moto.utilities.id_generator import moto_id_manager

from lambdas.adapters.azure_compute import VmRef
from lambdas.ownership import OWNER_TAG_KEY
from lambdas.plan import Plan
from localcloud.azure import AzureEmulator
from localcloud.drs import DrsEmulator
from localcloud.template import ACCOUNT_ID

Client = Callable[[str], Any]

DISKS_GIB = {"db": [64, 256], "default": [64, 128]}
LOCATION = "westeurope"


def seed_plans(
    plans: list[Plan],
    *,
    client: Client,
    azure: AzureEmulator,
    drs: DrsEmulator,
    stack_name: str,
    secret_arn: str,
) -> None:
    """`client(service)` is a boto3 client of the local cloud; the stack's resources are deployed."""
    for plan in plans:
        _seed_plan(client, azure, drs, stack_name, plan)
    _seed_secret(client, azure, secret_arn)
    _open_failback_port(client)


def _open_failback_port(client: Client) -> None:
    """The failback prerequisite (README, "Failback"): recovery instances let TCP 1500 in from the Azure
    VMs' outbound addresses; here the default security group they launch with."""
    ec2 = client("ec2")
    group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]}])
    ec2.authorize_security_group_ingress(
        GroupId=group["SecurityGroups"][0]["GroupId"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 1500,
                "ToPort": 1500,
                "IpRanges": [{"CidrIp": "203.0.113.0/24", "Description": "Azure VMs' outbound addresses"}],
            }
        ],
    )


def _seed_plan(client: Client, azure: AzureEmulator, drs: DrsEmulator, stack_name: str, plan: Plan) -> None:
    for server in plan.servers():
        disks = DISKS_GIB["db"] if "db" in server.name else DISKS_GIB["default"]
        ref = VmRef.parse(server.azure_vm_id)
        azure.seed_vm(
            resource_group=ref.resource_group,
            name=ref.name,
            os_disk_gb=disks[0],
            data_disks_gb=disks[1:],
            power_state="running",
        )
        drs.seed_source_server(
            hostname=server.name,
            disks_gib=disks,
            azure_vm_id=server.azure_vm_id,
            replication_state="CONTINUOUS",
            lag_seconds=2,
            source_server_id=server.source_server_id,
            # What the operator does for each server a stack protects (lambdas/ownership.py).
            tags={OWNER_TAG_KEY: stack_name},
        )
    # The failback-client image as `drctl failback-image publish` leaves it: a Gen1 gallery image version.
    image = plan.azure.failback.image_id.strip("/").split("/")
    azure.seed_gallery_image(
        resource_group=image[3], gallery=image[7], image=image[9], version=image[11], location=LOCATION
    )
    if plan.traffic is not None:
        _seed_zone(client, plan)


def _seed_zone(client: Client, plan: Plan) -> None:
    traffic = plan.traffic
    assert traffic is not None
    zone_name = traffic.record_name.rstrip(".").split(".", 1)[1] + "."
    route53 = client("route53")
    existing = [
        z for z in route53.list_hosted_zones()["HostedZones"] if z["Id"].endswith(traffic.hosted_zone_id)
    ]
    if not existing:
        # The plan names the zone by id (its IAM grant is scoped to it), so the local zone gets that id.
        moto_id_manager.set_custom_id(
            HostedZoneIdentifier(ACCOUNT_ID, zone_name, None), traffic.hosted_zone_id
        )
        route53.create_hosted_zone(Name=zone_name, CallerReference=f"local-{plan.name}")
    route53.change_resource_record_sets(
        HostedZoneId=traffic.hosted_zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": traffic.record_name,
                        "Type": traffic.record_type,
                        "TTL": traffic.ttl_seconds,
                        "ResourceRecords": [{"Value": traffic.azure_value}],
                    },
                }
            ]
        },
    )


def _seed_secret(client: Client, azure: AzureEmulator, secret_arn: str) -> None:
    """The same secret document an operator stores after deploy, pointing at the local Azure endpoints."""
    client("secretsmanager").put_secret_value(
        SecretId=secret_arn,
        SecretString=json.dumps(
            {
                "tenant_id": azure.tenant_id,
                "client_id": azure.client_id,
                "client_secret": azure.client_secret,
                "authority_host": azure.authority,
                "resource_manager": azure.resource_manager_url,
            }
        ),
    )
