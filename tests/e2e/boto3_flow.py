#!/usr/bin/env python3
"""Drives privlink with boto3: the same networking story as cli_flow.sh.

Run by scripts_test.go against a fresh server (AWS_ENDPOINT_URL and the
PROVIDER_/CONSUMER_ key variables are set)."""
import os
import sys

import boto3
import botocore.exceptions


def client(service, who):
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=os.environ[who + "_KEY"],
        aws_secret_access_key=os.environ[who + "_SECRET"],
    )


def expect_error(code, fn, **kwargs):
    try:
        fn(**kwargs)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        if got != code:
            sys.exit(f"FAIL: expected {code}, got {got}: {e}")
        print(f"ok: {code}")
        return
    sys.exit(f"FAIL: expected {code} from {fn.__name__}")


def main():
    prov_sts = client("sts", "PROVIDER")
    assert prov_sts.get_caller_identity()["Account"] == "111111111111"
    ec2 = client("ec2", "PROVIDER")
    cons = client("ec2", "CONSUMER")

    vpc = ec2.create_vpc(
        CidrBlock="10.20.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "boto3-vpc"}]}],
    )["Vpc"]
    vpc_id = vpc["VpcId"]
    assert vpc["CidrBlock"] == "10.20.0.0/16", vpc
    assert vpc["Tags"] == [{"Key": "Name", "Value": "boto3-vpc"}], vpc

    found = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["boto3-*"]}])["Vpcs"]
    assert [v["VpcId"] for v in found] == [vpc_id], found
    expect_error("InvalidVpcID.NotFound", cons.describe_vpcs, VpcIds=[vpc_id])

    paginator = ec2.get_paginator("describe_vpcs")
    for i in range(6):
        ec2.create_vpc(CidrBlock="10.30.0.0/16")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 5}))
    assert len(pages) == 2 and sum(len(p["Vpcs"]) for p in pages) == 7, [len(p["Vpcs"]) for p in pages]

    ec2.delete_vpc(VpcId=vpc_id)
    expect_error("InvalidVpcID.NotFound", ec2.describe_vpcs, VpcIds=[vpc_id])
    print("boto3 flow passed")


if __name__ == "__main__":
    main()
