"""Route 53: point the plan's DNS record at Azure or at AWS."""

from __future__ import annotations

from lambdas.adapters.aws import client


def current_value(hosted_zone_id: str, record_name: str, record_type: str) -> str | None:
    name = record_name if record_name.endswith(".") else record_name + "."
    response = client("route53").list_resource_record_sets(
        HostedZoneId=hosted_zone_id, StartRecordName=name, StartRecordType=record_type, MaxItems="1"
    )
    for record in response.get("ResourceRecordSets", []):
        if record["Name"].rstrip(".").lower() == name.rstrip(".").lower() and record["Type"] == record_type:
            values = record.get("ResourceRecords", [])
            return str(values[0]["Value"]) if values else None
    return None


def upsert(
    hosted_zone_id: str, record_name: str, record_type: str, value: str, ttl: int, comment: str
) -> str:
    """UPSERT is idempotent, so a retried switch is harmless. Returns the change id."""
    response = client("route53").change_resource_record_sets(
        HostedZoneId=hosted_zone_id,
        ChangeBatch={
            "Comment": comment[:256],
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": record_name,
                        "Type": record_type,
                        "TTL": ttl,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
            ],
        },
    )
    return str(response["ChangeInfo"]["Id"])
