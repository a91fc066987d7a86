#!/usr/bin/env bash
# The README's PrivateLink walkthrough with the AWS CLI and privlink exec: a
# provider serves HTTP from an instance behind an NLB as an endpoint service;
# a consumer in another account reaches it from an isolated subnet through an
# interface endpoint, by its endpoint DNS name, with curl and dig.
# Needs AWS_ENDPOINT_URL, PRIVLINK (the binary), PRIVLINK_PREFIX and the
# PROVIDER_/CONSUMER_ key variables; run by dataplane_cli_test.go as root.
set -euo pipefail

as() { # as provider|consumer command... : run with that account's keys
  local who=$1; shift
  case $who in
    provider) AWS_ACCESS_KEY_ID=$PROVIDER_KEY AWS_SECRET_ACCESS_KEY=$PROVIDER_SECRET "$@" ;;
    consumer) AWS_ACCESS_KEY_ID=$CONSUMER_KEY AWS_SECRET_ACCESS_KEY=$CONSUMER_SECRET "$@" ;;
  esac
}
pexec() { local who=$1; shift; as "$who" "$PRIVLINK" exec --dataplane-prefix "$PRIVLINK_PREFIX" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
wait_for() { # wait_for DESCRIPTION COMMAND... : until the command prints "yes"
  local what=$1; shift
  for _ in $(seq 100); do
    [ "$("$@" 2>/dev/null)" = yes ] && return 0
    sleep 0.2
  done
  fail "timed out waiting for $what"
}
running() { [ "$(as "$1" aws ec2 describe-instances --instance-ids "$2" --query 'Reservations[0].Instances[0].State.Name' --output text)" = running ] && echo yes; }

# --- Provider: a web server on an instance, behind an internal NLB.
pvpc=$(as provider aws ec2 create-vpc --cidr-block 10.0.0.0/16 --query Vpc.VpcId --output text)
psub=$(as provider aws ec2 create-subnet --vpc-id "$pvpc" --cidr-block 10.0.1.0/24 --availability-zone us-east-1a --query Subnet.SubnetId --output text)
psg=$(as provider aws ec2 describe-security-groups --filters Name=vpc-id,Values="$pvpc" Name=group-name,Values=default --query 'SecurityGroups[0].GroupId' --output text)
as provider aws ec2 authorize-security-group-ingress --group-id "$psg" --protocol tcp --port 8080 --cidr 10.0.0.0/16 >/dev/null
web=$(as provider aws ec2 run-instances --image-id ami-12345678 --count 1 --subnet-id "$psub" --query 'Instances[0].InstanceId' --output text)
wait_for "web instance running" running provider "$web"
webip=$(as provider aws ec2 describe-instances --instance-ids "$web" --query 'Reservations[0].Instances[0].PrivateIpAddress' --output text)
mkdir -p "$TMPDIR/www" && echo "hello from $web" > "$TMPDIR/www/index.html"
# The subshell execs privlink, so $! is privlink exec itself, and a TERM to
# it ends the web server too.
(AWS_ACCESS_KEY_ID=$PROVIDER_KEY AWS_SECRET_ACCESS_KEY=$PROVIDER_SECRET exec "$PRIVLINK" exec --dataplane-prefix "$PRIVLINK_PREFIX" \
  "$web" -- python3 -m http.server 8080 --bind "$webip" --directory "$TMPDIR/www") >/dev/null 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT

lb=$(as provider aws elbv2 create-load-balancer --name web --type network --scheme internal --subnets "$psub" --query 'LoadBalancers[0].LoadBalancerArn' --output text)
tg=$(as provider aws elbv2 create-target-group --name web --protocol TCP --port 8080 --vpc-id "$pvpc" --target-type instance --query 'TargetGroups[0].TargetGroupArn' --output text)
as provider aws elbv2 register-targets --target-group-arn "$tg" --targets Id="$web"
as provider aws elbv2 create-listener --load-balancer-arn "$lb" --protocol TCP --port 80 --default-actions Type=forward,TargetGroupArn="$tg" >/dev/null
svc=$(as provider aws ec2 create-vpc-endpoint-service-configuration --network-load-balancer-arns "$lb" --acceptance-required --query ServiceConfiguration.ServiceId --output text)
svcname=$(as provider aws ec2 describe-vpc-endpoint-service-configurations --service-ids "$svc" --query 'ServiceConfigurations[0].ServiceName' --output text)
as provider aws ec2 modify-vpc-endpoint-service-permissions --service-id "$svc" --add-allowed-principals arn:aws:iam::222222222222:root >/dev/null
echo "ok: provider service $svcname"

# --- Consumer: an isolated subnet (no internet gateway), the same CIDR.
cvpc=$(as consumer aws ec2 create-vpc --cidr-block 10.0.0.0/16 --query Vpc.VpcId --output text)
as consumer aws ec2 modify-vpc-attribute --vpc-id "$cvpc" --enable-dns-hostnames '{"Value":true}'
csub=$(as consumer aws ec2 create-subnet --vpc-id "$cvpc" --cidr-block 10.0.1.0/24 --availability-zone us-east-1a --query Subnet.SubnetId --output text)
esg=$(as consumer aws ec2 create-security-group --group-name endpoint --description "HTTP to the endpoint" --vpc-id "$cvpc" --query GroupId --output text)
as consumer aws ec2 authorize-security-group-ingress --group-id "$esg" --protocol tcp --port 80 --cidr 10.0.0.0/16 >/dev/null
client=$(as consumer aws ec2 run-instances --image-id ami-12345678 --count 1 --subnet-id "$csub" --query 'Instances[0].InstanceId' --output text)
wait_for "client instance running" running consumer "$client"

[ "$(as consumer aws ec2 describe-vpc-endpoint-services --service-names "$svcname" --query 'length(ServiceDetails)')" = 1 ] || fail "consumer cannot see the service"
ep=$(as consumer aws ec2 create-vpc-endpoint --vpc-id "$cvpc" --vpc-endpoint-type Interface --service-name "$svcname" \
  --subnet-ids "$csub" --security-group-ids "$esg" --query VpcEndpoint.VpcEndpointId --output text)
state() { as consumer aws ec2 describe-vpc-endpoints --vpc-endpoint-ids "$ep" --query 'VpcEndpoints[0].State' --output text; }
[ "$(state)" = pendingAcceptance ] || fail "new endpoint is $(state)"
dnsname=$(as consumer aws ec2 describe-vpc-endpoints --vpc-endpoint-ids "$ep" --query 'VpcEndpoints[0].DnsEntries[0].DnsName' --output text)
if pexec consumer "$client" -- curl -s -m 2 "http://$dnsname/" >/dev/null 2>&1; then fail "traffic before acceptance"; fi

as provider aws ec2 accept-vpc-endpoint-connections --service-id "$svc" --vpc-endpoint-ids "$ep" >/dev/null
is_available() { [ "$(state)" = available ] && echo yes; }
wait_for "endpoint available" is_available
echo "ok: endpoint $ep available as $dnsname"

resolved=$(pexec consumer "$client" -- dig +short "$dnsname")
[ -n "$resolved" ] || fail "dig returned nothing for $dnsname"
echo "ok: dig $dnsname -> $resolved"
page=$(pexec consumer "$client" -- curl -s -m 5 "http://$dnsname/")
[ "$page" = "hello from $web" ] || fail "curl through the endpoint returned: $page"
echo "ok: curl through the endpoint: $page"

# The subnet is isolated: the public SQS address is unreachable.
if pexec consumer "$client" -- curl -s -m 2 http://sqs.us-east-1.amazonaws.com/ >/dev/null 2>&1; then fail "the isolated subnet reached the internet"; fi
echo "ok: no route to the internet from the isolated subnet"

as provider aws ec2 reject-vpc-endpoint-connections --service-id "$svc" --vpc-endpoint-ids "$ep" >/dev/null
is_rejected() { [ "$(state)" = rejected ] && echo yes; }
wait_for "endpoint rejected" is_rejected
if pexec consumer "$client" -- curl -s -m 2 "http://$dnsname/" >/dev/null 2>&1; then fail "traffic after reject"; fi
echo "ok: rejected endpoint carries no traffic"

# Terminating the web instance ends the server that runs on it.
as provider aws ec2 terminate-instances --instance-ids "$web" >/dev/null
for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$server_pid" 2>/dev/null; then fail "the web server outlived its instance"; fi
status=0
wait "$server_pid" || status=$?
[ "$status" = 137 ] || fail "privlink exec exited $status when its instance was terminated, want 137"
echo "ok: terminating the instance ended its web server (privlink exec exited $status)"
echo "privatelink cli flow passed"
