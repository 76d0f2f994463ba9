"""Read the synthesized CloudFormation template and resolve the intrinsic functions the stack uses, so
the local cloud creates exactly what would deploy."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT_ID = "123456789012"


@dataclass
class Template:
    path: Path
    region: str
    document: dict[str, Any] = field(init=False)
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.document = json.loads(self.path.read_text(encoding="utf-8"))

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.document["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._attribute(logical, attribute)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self.resolve(p)) for p in parts)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(index)]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(text)).split(separator)
        return {k: self.resolve(v) for k, v in value.items()}

    def _attribute(self, logical: str, attribute: str) -> str:
        if (logical, attribute) not in self.attributes and (attribute, self.resources[logical]["Type"]) == (
            "Arn",
            "AWS::Logs::LogGroup",
        ):
            # Nothing is deployed for a log group (handlers log to this process); its ARN is what role
            # policies grant on, in CloudFormation's form for a log group's Arn: ...:log-group:<name>:*.
            return f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{logical}:*"
        return self.attributes[(logical, attribute)]

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.path.name.split(".")[0],
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{ACCOUNT_ID}:stack/{self.path.name.split('.')[0]}/"
                "00000000-0000-0000-0000-000000000000"
            ),
        }
        if name in pseudo:
            return pseudo[name]
        return self.refs[name]

    def asset_dir(self, function_logical_id: str) -> Path:
        """cdk.out/asset.<hash> holding a function's code (the S3 key is <hash>.zip)."""
        key = self.resources[function_logical_id]["Properties"]["Code"]["S3Key"]
        return self.path.parent / f"asset.{str(key).removesuffix('.zip')}"
