#!/usr/bin/env bash
# Drives privlink with the AWS CLI: the networking story of the README.
# Run by scripts_test.go against a fresh server; needs AWS_ENDPOINT_URL and
# the PROVIDER_/CONSUMER_/OUTSIDER_ key variables.
set -euo pipefail

as() { # as provider|consumer|outsider aws-args...
  local who=$1; shift
  local key secret
  case $who in
    provider) key=$PROVIDER_KEY secret=$PROVIDER_SECRET ;;
    consumer) key=$CONSUMER_KEY secret=$CONSUMER_SECRET ;;
    outsider) key=$OUTSIDER_KEY secret=$OUTSIDER_SECRET ;;
  esac
  AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret aws "$@"
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_error CODE cmd... : the command must fail with that AWS error code.
expect_error() {
  local code=$1; shift
  local out
  if out=$("$@" 2>&1); then fail "expected $code from: $*"; fi
  grep -q "($code)" <<<"$out" || fail "expected $code from: $*, got: $out"
  echo "ok: $code from ${*:2:3}"
}

account=$(as provider sts get-caller-identity --query Account --output text)
[ "$account" = 111111111111 ] || fail "provider account is $account"

vpc=$(as provider ec2 create-vpc --cidr-block 10.0.0.0/16 \
  --tag-specifications 'ResourceType=vpc,Tags=[{Key=Name,Value=cli-vpc}]' \
  --query Vpc.VpcId --output text)
[[ $vpc == vpc-* ]] || fail "vpc id $vpc"
as provider ec2 modify-vpc-attribute --vpc-id "$vpc" --enable-dns-hostnames '{"Value":true}'
[ "$(as provider ec2 describe-vpc-attribute --vpc-id "$vpc" --attribute enableDnsHostnames --query EnableDnsHostnames.Value --output text)" = True ] \
  || fail "enableDnsHostnames not set"
[ "$(as provider ec2 describe-vpcs --filters Name=tag:Name,Values=cli-vpc --query 'length(Vpcs)')" = 1 ] || fail "tag filter"
expect_error InvalidVpcID.NotFound as consumer ec2 describe-vpcs --vpc-ids "$vpc"
expect_error InvalidVpc.Range as provider ec2 create-vpc --cidr-block 10.0.0.0/8
expect_error DryRunOperation as provider ec2 create-vpc --cidr-block 10.1.0.0/16 --dry-run
expect_error AuthFailure env AWS_ACCESS_KEY_ID=$PROVIDER_KEY AWS_SECRET_ACCESS_KEY=wrong aws ec2 describe-vpcs

as provider ec2 delete-vpc --vpc-id "$vpc"
expect_error InvalidVpcID.NotFound as provider ec2 describe-vpcs --vpc-ids "$vpc"
echo "cli flow passed"
