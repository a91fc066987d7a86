#!/usr/bin/env bash
# Drives privlink's PrivateLink control plane with the AWS CLI (issue #3): a
# provider publishes an NLB as an endpoint service with acceptance required,
# allows the consumer's account, the consumer connects an interface endpoint
# and a gateway endpoint for S3. The server is API-only: endpoints become
# available without traffic.
# Run by scripts_test.go against a fresh server; needs AWS_ENDPOINT_URL and
# the PROVIDER_/CONSUMER_/OUTSIDER_ key variables.
set -euo pipefail
. "$(dirname "$0")/cli_lib.sh"

# wait_for DESCRIPTION WANT cmd... : until the command prints WANT (~20 s).
wait_for() {
  local what=$1 want=$2 got=; shift 2
  for _ in $(seq 20); do
    got=$("$@") && [ "$got" = "$want" ] && { ok "$what"; return 0; }
    sleep 0.3
  done
  fail "timed out waiting for $what: last got '$got'"
}

# --- Provider: an internal NLB with a target group and a listener.
pvpc=$(as provider ec2 create-vpc --cidr-block 10.0.0.0/16 --query Vpc.VpcId --output text)
psub=$(as provider ec2 create-subnet --vpc-id "$pvpc" --cidr-block 10.0.1.0/24 --availability-zone us-east-1a --query Subnet.SubnetId --output text)
read -r lb lbtype <<<"$(as provider elbv2 create-load-balancer --name svc --type network --scheme internal --subnets "$psub" \
  --query 'LoadBalancers[0].[LoadBalancerArn,Type]' --output text)"
tg=$(as provider elbv2 create-target-group --name svc --protocol TCP --port 8080 --vpc-id "$pvpc" --target-type ip \
  --query 'TargetGroups[0].TargetGroupArn' --output text)
check "network load balancer with a TCP:80 listener forwarding to its target group" \
  "$lbtype $(as provider elbv2 create-listener --load-balancer-arn "$lb" --protocol TCP --port 80 \
    --default-actions Type=forward,TargetGroupArn="$tg" --query 'Listeners[0].[Protocol,Port]' --output text)" "network TCP	80"

# --- Provider: the endpoint service, acceptance required.
read -r svc svcname svcstate accept <<<"$(as provider ec2 create-vpc-endpoint-service-configuration --network-load-balancer-arns "$lb" \
  --acceptance-required --query 'ServiceConfiguration.[ServiceId,ServiceName,ServiceState,AcceptanceRequired]' --output text)"
check "endpoint service $svcname Available, acceptance required" "$svcname $svcstate $accept" \
  "com.amazonaws.vpce.us-east-1.$svc Available True"
expect_error InvalidServiceName as consumer ec2 describe-vpc-endpoint-services --service-names "$svcname"
check "consumer account root allowed" "$(as provider ec2 modify-vpc-endpoint-service-permissions --service-id "$svc" \
  --add-allowed-principals arn:aws:iam::222222222222:root --query 'AddedPrincipals[0].[PrincipalType,Principal]' --output text)" \
  "Account	arn:aws:iam::222222222222:root"
{ check "consumer describes the service by name: owner and acceptance" \
  "$(as consumer ec2 describe-vpc-endpoint-services --service-names "$svcname" \
     --query 'ServiceDetails[].[ServiceName,Owner,AcceptanceRequired]' --output text)" "$svcname	111111111111	True"; } & bgpid
bg expect_error InvalidServiceName as outsider ec2 describe-vpc-endpoint-services --service-names "$svcname"

# --- Consumer: an overlapping VPC, an interface endpoint.
cvpc=$(as consumer ec2 create-vpc --cidr-block 10.0.0.0/16 --query Vpc.VpcId --output text)
csub=$(as consumer ec2 create-subnet --vpc-id "$cvpc" --cidr-block 10.0.1.0/24 --availability-zone us-east-1a --query Subnet.SubnetId --output text)
read -r ep state ndns eni dns <<<"$(as consumer ec2 create-vpc-endpoint --vpc-id "$cvpc" --vpc-endpoint-type Interface --service-name "$svcname" \
  --subnet-ids "$csub" --query 'VpcEndpoint.[VpcEndpointId,State,length(DnsEntries),join(`,`,NetworkInterfaceIds),DnsEntries[0].DnsName]' --output text)"
join
check "interface endpoint $ep pendingAcceptance with $ndns DNS entries ($dns) and interface $eni" \
  "$state $ndns ${eni//[a-z0-9]/x} ${dns#*.}" "pendingAcceptance 2 xxx-xxxxxxxxxxxxxxxxx $svc.us-east-1.vpce.amazonaws.com"
{ check "provider sees the pending connection from 222222222222" \
  "$(as provider ec2 describe-vpc-endpoint-connections --filters Name=service-id,Values="$svc" \
     --query 'VpcEndpointConnections[].[VpcEndpointId,VpcEndpointOwner,VpcEndpointState]' --output text)" "$ep	222222222222	pendingAcceptance"; } & bgpid
{ check "the endpoint's interface is a requester-managed vpc_endpoint ENI" \
  "$(as consumer ec2 describe-network-interfaces --network-interface-ids "$eni" \
     --query 'NetworkInterfaces[].[InterfaceType,RequesterManaged,SubnetId]' --output text)" "vpc_endpoint	True	$csub"; } & bgpid
bg expect_error InvalidVpcEndpointServiceId.NotFound as consumer ec2 accept-vpc-endpoint-connections --service-id "$svc" --vpc-endpoint-ids "$ep"
join
check "provider accepts the connection" "$(as provider ec2 accept-vpc-endpoint-connections --service-id "$svc" --vpc-endpoint-ids "$ep" \
  --query 'length(Unsuccessful)')" 0
wait_for "endpoint $ep available" available as consumer ec2 describe-vpc-endpoints --vpc-endpoint-ids "$ep" --query 'VpcEndpoints[0].State' --output text

# --- Consumer: a gateway endpoint for S3 on the VPC's main route table.
{ check "provider sees the connection available" \
  "$(as provider ec2 describe-vpc-endpoint-connections --filters Name=vpc-endpoint-id,Values="$ep" \
     --query 'VpcEndpointConnections[0].VpcEndpointState' --output text)" available; } & bgpid
s3pl=$(as consumer ec2 describe-managed-prefix-lists --filters Name=prefix-list-name,Values=com.amazonaws.us-east-1.s3 \
  --query 'PrefixLists[0].PrefixListId' --output text)
rtb=$(as consumer ec2 describe-route-tables --filters Name=vpc-id,Values="$cvpc" --query 'RouteTables[0].RouteTableId' --output text)
gw=$(as consumer ec2 create-vpc-endpoint --vpc-id "$cvpc" --vpc-endpoint-type Gateway --service-name com.amazonaws.us-east-1.s3 \
  --route-table-ids "$rtb" --query VpcEndpoint.VpcEndpointId --output text)
s3route() { as consumer ec2 describe-route-tables --route-table-ids "$rtb" \
  --query "RouteTables[0].Routes[?DestinationPrefixListId=='$s3pl'].[DestinationPrefixListId,GatewayId,State]" --output text; }
check "gateway endpoint $gw adds a route for the s3 prefix list $s3pl" "$(s3route)" "$s3pl	$gw	active"
check "gateway endpoint deleted" "$(as consumer ec2 delete-vpc-endpoints --vpc-endpoint-ids "$gw" --query 'length(Unsuccessful)')" 0
wait_for "deleting the gateway endpoint removes its route" "" s3route

# --- Consumer: delete the interface endpoint.
check "delete-vpc-endpoints $ep" "$(as consumer ec2 delete-vpc-endpoints --vpc-endpoint-ids "$ep" --query 'length(Unsuccessful)')" 0
state=$(as consumer ec2 describe-vpc-endpoints --filters Name=vpc-endpoint-id,Values="$ep" --query 'VpcEndpoints[0].State' --output text)
case $state in deleting|deleted|None) ok "endpoint $ep is ${state/None/gone}" ;; *) fail "endpoint after delete is $state" ;; esac
join
echo "cli privatelink flow passed"
