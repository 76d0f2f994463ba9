"""Recovery instances are real EC2 instances in moto (a server at an endpoint, or mock_aws in-process)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from localcloud.drs.records import INSTANCE_TYPE

_IMAGE_NAME = "amzn2-ami-hvm-*x86_64-gp2"  # a name filter keeps moto's describe_images fast
_EC2_DEVICES = [f"/dev/xvd{chr(ord('a') + i)}" for i in range(26)]


@dataclass(frozen=True)
class Launched:
    instance_id: str
    volume_ids: list[str]


class Ec2:
    def __init__(self, endpoint_url: str | None, region: str) -> None:
        self._endpoint_url = endpoint_url
        self._region = region
        self._client: Any = None
        self._image_id: str | None = None
        self._subnet_id: str | None = None
        self._security_group_id: str | None = None

    def _ec2(self) -> Any:
        if self._client is None:
            self._client = boto3.client(
                "ec2",
                endpoint_url=self._endpoint_url,
                region_name=self._region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",  # noqa: S106 - moto ignores credentials
            )
        return self._client

    def _image(self) -> str:
        if self._image_id is None:
            images = self._ec2().describe_images(Filters=[{"Name": "name", "Values": [_IMAGE_NAME]}])[
                "Images"
            ]
            images = images or self._ec2().describe_images()["Images"]
            self._image_id = str(images[0]["ImageId"])
        return self._image_id

    def _subnet(self) -> str:
        # DRS launches into the subnet of the server's EC2 launch template; the emulator's template
        # names the default VPC's first default subnet (its MapPublicIpOnLaunch decides the public IP).
        if self._subnet_id is None:
            subnets = self._ec2().describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
            self._subnet_id = str(
                sorted(subnets["Subnets"], key=lambda s: s["AvailabilityZone"])[0]["SubnetId"]
            )
        return self._subnet_id

    def _security_group(self) -> str:
        # EC2 gives an instance launched into a VPC without security groups the VPC's default group
        # (EC2 user guide, "Default security groups for your VPCs"); moto gives none, so name it here.
        if self._security_group_id is None:
            vpc = self._ec2().describe_subnets(SubnetIds=[self._subnet()])["Subnets"][0]["VpcId"]
            groups = self._ec2().describe_security_groups(
                Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
            )
            self._security_group_id = str(groups["SecurityGroups"][0]["GroupId"])
        return self._security_group_id

    def launch(self, disks_gib: list[int], tags: dict[str, str]) -> Launched:
        reservation = self._ec2().run_instances(
            ImageId=self._image(),
            SubnetId=self._subnet(),
            SecurityGroupIds=[self._security_group()],
            InstanceType=INSTANCE_TYPE,
            MinCount=1,
            MaxCount=1,
            BlockDeviceMappings=[
                {"DeviceName": device, "Ebs": {"VolumeSize": gib}}
                for device, gib in zip(_EC2_DEVICES, disks_gib, strict=False)
            ],
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ],
        )
        instance = reservation["Instances"][0]
        volumes = [m["Ebs"]["VolumeId"] for m in instance.get("BlockDeviceMappings", []) if "Ebs" in m]
        return Launched(instance_id=str(instance["InstanceId"]), volume_ids=volumes)

    def terminate(self, instance_id: str) -> None:
        self._ec2().terminate_instances(InstanceIds=[instance_id])
