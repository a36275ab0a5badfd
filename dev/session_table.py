"""The session table on a local DynamoDB (moto), made from template.yaml's own declaration.

template.yaml's SessionTable resource is the one place the schema is written down: this script
reads its Properties (KeySchema, AttributeDefinitions, GlobalSecondaryIndexes, BillingMode,
SSESpecification, TimeToLiveSpecification, PointInTimeRecoverySpecification) and makes the same
table under another name. The launcher of the local stack (dev/stack: `make dev`, the e2e tests, the
benchmarks) uses it.

Run with the venv's python (boto3 and PyYAML come with moto[server]), from anywhere:

    .venv/bin/python dev/session_table.py create   --endpoint http://127.0.0.1:5001 --name NAME
        Creates the table, or leaves it when one of that name exists with the same key schema and
        indexes (exits 1 when it exists with others). Then switches TTL on (and PITR, where the
        endpoint knows it). Prints one line.
    .venv/bin/python dev/session_table.py describe --endpoint ... --name NAME
        Prints {"Table": DescribeTable's answer, "TimeToLive": DescribeTimeToLive's} as JSON.
    .venv/bin/python dev/session_table.py scan     --endpoint ... --name NAME
        Prints every item as a JSON array, in DynamoDB's typed JSON ({"h": {"S": "..."}}, binary
        values as standard base64), so a test can look for values that must not be stored.

Options: --region (default us-east-1), --template (default template.yaml beside dev/). Without
credentials in the environment it uses dummy ones (a local endpoint ignores them).
"""

import argparse
import base64
import json
import os
import sys
from pathlib import Path

import boto3
from botocore.exceptions import ClientError
import yaml

ROOT = Path(__file__).resolve().parent.parent
RESOURCE = "SessionTable"


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref x -> {"Ref": x}, !If [...] ->
    {"Fn::If": [...]}, !GetAtt a.b -> {"Fn::GetAtt": ["a", "b"]})."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _tag)


def declaration(template):
    """The SessionTable resource's Properties, refusing any intrinsic function in them: the
    local table must be exactly the declared one."""
    with open(template) as f:
        doc = yaml.load(f, Loader=CfnLoader)
    resource = (doc.get("Resources") or {}).get(RESOURCE)
    if not resource or resource.get("Type") != "AWS::DynamoDB::Table":
        sys.exit(f"session_table: {template} has no {RESOURCE} resource of type AWS::DynamoDB::Table")
    props = resource.get("Properties") or {}

    def literal(x, path):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "Ref" or k.startswith("Fn::"):
                    sys.exit(f"session_table: {RESOURCE}.Properties.{path} uses {k}; keep the schema literal")
                literal(v, f"{path}.{k}")
        elif isinstance(x, list):
            for i, v in enumerate(x):
                literal(v, f"{path}[{i}]")

    literal(props, "")
    return props


def create_table_args(props, name):
    """CreateTable's arguments from the CloudFormation Properties (SSESpecification's SSEEnabled
    is CreateTable's Enabled; TTL and PITR are separate calls)."""
    args = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if props.get("GlobalSecondaryIndexes"):
        args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    sse = props.get("SSESpecification")
    if sse:
        args["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled"))}
        if sse.get("SSEType"):
            args["SSESpecification"]["SSEType"] = sse["SSEType"]
    return args


def shape(table):
    """What must match between the declaration and an existing table: keys and indexes."""
    return (
        sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]),
        sorted(
            (
                i["IndexName"],
                tuple(sorted((k["AttributeName"], k["KeyType"]) for k in i["KeySchema"])),
                i["Projection"]["ProjectionType"],
            )
            for i in table.get("GlobalSecondaryIndexes") or []
        ),
    )


def client(args):
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(k, "local")
    return boto3.client("dynamodb", endpoint_url=args.endpoint, region_name=args.region)


def create(args):
    props = declaration(args.template)
    db = client(args)
    wanted = create_table_args(props, args.name)
    try:
        existing = db.describe_table(TableName=args.name)["Table"]
    except db.exceptions.ResourceNotFoundException:
        existing = None
    if existing is None:
        db.create_table(**wanted)
        db.get_waiter("table_exists").wait(TableName=args.name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        state = "created"
    elif shape(existing) != shape(wanted):
        sys.exit(f"session_table: table {args.name} exists with other keys or indexes than {args.template} declares")
    else:
        state = "exists"
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        current = db.describe_time_to_live(TableName=args.name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            db.update_time_to_live(
                TableName=args.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
    pitr = props.get("PointInTimeRecoverySpecification")
    if pitr and pitr.get("PointInTimeRecoveryEnabled"):
        try:
            db.update_continuous_backups(
                TableName=args.name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
        except ClientError as e:  # an emulator without PITR: not needed locally
            print(f"session_table: point-in-time recovery not set ({e.response['Error']['Code']})", file=sys.stderr)
    indexes = ", ".join(i["IndexName"] for i in wanted.get("GlobalSecondaryIndexes", []))
    print(f"session_table: {args.name} {state} at {args.endpoint} (key h, indexes {indexes or 'none'})")
    return 0


def describe(args):
    db = client(args)
    table = db.describe_table(TableName=args.name)["Table"]
    ttl = db.describe_time_to_live(TableName=args.name)["TimeToLiveDescription"]
    print(json.dumps({"Table": table, "TimeToLive": ttl}, default=str))
    return 0


def typed(value):
    """An item's attribute value as DynamoDB's JSON, with bytes in standard base64."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [typed(v) for v in value]
    return value


def scan(args):
    db = client(args)
    items, start = [], None
    while True:
        page = db.scan(TableName=args.name, **({"ExclusiveStartKey": start} if start else {}))
        items.extend(typed(i) for i in page.get("Items", []))
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    print(json.dumps(items))
    return 0


COMMANDS = {"create": create, "describe": describe, "scan": scan}

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("command", choices=COMMANDS)
    p.add_argument("--endpoint", required=True, help="DynamoDB endpoint, e.g. http://127.0.0.1:5001")
    p.add_argument("--name", required=True, help="table name")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--template", default=str(ROOT / "template.yaml"))
    a = p.parse_args()
    sys.exit(COMMANDS[a.command](a))
