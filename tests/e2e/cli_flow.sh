#!/usr/bin/env bash
# Drives privlink with the AWS CLI: the networking story of the README and
# issue #2 (subnets, instances, security groups, network ACLs, routes, internet
# gateways, prefix lists, pagination, account isolation). PrivateLink is in
# cli_privatelink_flow.sh.
# Run by scripts_test.go against a fresh server; needs AWS_ENDPOINT_URL and
# the PROVIDER_/CONSUMER_/OUTSIDER_ key variables.
set -euo pipefail
. "$(dirname "$0")/cli_lib.sh"

account=$(as provider sts get-caller-identity --query Account --output text)
[ "$account" = 111111111111 ] || fail "provider account is $account"

vpc=$(as provider ec2 create-vpc --cidr-block 10.0.0.0/16 \
  --tag-specifications 'ResourceType=vpc,Tags=[{Key=Name,Value=cli-vpc}]' \
  --query Vpc.VpcId --output text)
[[ $vpc == vpc-* ]] || fail "vpc id $vpc"
as provider ec2 modify-vpc-attribute --vpc-id "$vpc" --enable-dns-hostnames '{"Value":true}'
[ "$(as provider ec2 describe-vpc-attribute --vpc-id "$vpc" --attribute enableDnsHostnames --query EnableDnsHostnames.Value --output text)" = True ] \
  || fail "enableDnsHostnames not set"
{ check "enableDnsSupport on by default" "$(as provider ec2 describe-vpc-attribute --vpc-id "$vpc" --attribute enableDnsSupport --query EnableDnsSupport.Value --output text)" True; } & bgpid
[ "$(as provider ec2 describe-vpcs --filters Name=tag:Name,Values=cli-vpc --query 'length(Vpcs)')" = 1 ] || fail "tag filter"
bg expect_error InvalidVpcID.NotFound as consumer ec2 describe-vpcs --vpc-ids "$vpc"
bg expect_error InvalidVpc.Range as provider ec2 create-vpc --cidr-block 10.0.0.0/8
bg expect_error DryRunOperation as provider ec2 create-vpc --cidr-block 10.1.0.0/16 --dry-run
bg expect_error AuthFailure env AWS_ACCESS_KEY_ID=$PROVIDER_KEY AWS_SECRET_ACCESS_KEY=wrong aws ec2 describe-vpcs
join

as provider ec2 delete-vpc --vpc-id "$vpc"
expect_error InvalidVpcID.NotFound as provider ec2 describe-vpcs --vpc-ids "$vpc"
ok "VPC with tags and DNS attributes created, filtered, hidden from the consumer and deleted"

# --- Issue #2: the provider's network. Independent parts run side by side to
# keep the run short: each section is a background job with its own checks.
net=$(as provider ec2 create-vpc --cidr-block 10.40.0.0/16 \
  --tag-specifications 'ResourceType=vpc,Tags=[{Key=Name,Value=net},{Key=team,Value=edge}]' \
  --query 'Vpc.[VpcId,length(Tags)]' --output text)
read -r net ntags <<<"$net"
check "VPC $net created with 2 tags" "$ntags" 2
read -r suba avail <<<"$(as provider ec2 create-subnet --vpc-id "$net" --cidr-block 10.40.1.0/28 --availability-zone us-east-1a \
  --query 'Subnet.[SubnetId,AvailableIpAddressCount]' --output text)"
check "a /28 subnet in us-east-1a has 11 available addresses" "$avail" 11
bg expect_error InvalidSubnet.Conflict as provider ec2 create-subnet --vpc-id "$net" --cidr-block 10.40.1.0/24
bg expect_error InvalidSubnet.Range as provider ec2 create-subnet --vpc-id "$net" --cidr-block 10.41.0.0/24
read -r subb azb <<<"$(as provider ec2 create-subnet --vpc-id "$net" --cidr-block 10.40.2.0/24 --availability-zone us-east-1b \
  --query 'Subnet.[SubnetId,AvailabilityZone]' --output text)"
check "second subnet in us-east-1b" "$azb" us-east-1b
join

network_acl() { # a network ACL with numbered entries, moved onto subnet a
  local acl assoc isdef newassoc; pids=()
  acl=$(as provider ec2 create-network-acl --vpc-id "$net" --query NetworkAcl.NetworkAclId --output text)
  as provider ec2 create-network-acl-entry --network-acl-id "$acl" --ingress --rule-number 100 --protocol tcp --port-range From=443,To=443 \
    --cidr-block 10.0.0.0/8 --rule-action allow
  bg expect_error NetworkAclEntryAlreadyExists as provider ec2 create-network-acl-entry --network-acl-id "$acl" --ingress --rule-number 100 \
    --protocol -1 --cidr-block 0.0.0.0/0 --rule-action deny
  bg as provider ec2 create-network-acl-entry --network-acl-id "$acl" --egress --rule-number 100 --protocol -1 --cidr-block 0.0.0.0/0 --rule-action allow
  read -r assoc isdef <<<"$(as provider ec2 describe-network-acls --filters Name=association.subnet-id,Values="$suba" \
    --query "NetworkAcls[0].[Associations[?SubnetId=='$suba'].NetworkAclAssociationId | [0], IsDefault]" --output text)"
  join
  check "subnet a starts on the default network ACL" "$isdef" True
  newassoc=$(as provider ec2 replace-network-acl-association --association-id "$assoc" --network-acl-id "$acl" --query NewAssociationId --output text)
  [[ $newassoc == aclassoc-* && $newassoc != "$assoc" ]] || fail "replace-network-acl-association returned $newassoc"
  check "replace-network-acl-association moves subnet a onto $acl (entries ingress 100,32767 egress 100,32767)" \
    "$(as provider ec2 describe-network-acls --network-acl-ids "$acl" \
       --query 'NetworkAcls[0].[Associations[0].SubnetId, join(`,`, Entries[?!Egress].RuleNumber.to_string(@)), join(`,`, Entries[?Egress].RuleNumber.to_string(@))]' --output text)" \
    "$suba	100,32767	100,32767"
}

routes() { # a route table on subnet b with a default route to an internet gateway
  local rtb igw; pids=()
  rtb=$(as provider ec2 create-route-table --vpc-id "$net" --query RouteTable.RouteTableId --output text)
  igw=$(as provider ec2 create-internet-gateway --query InternetGateway.InternetGatewayId --output text)
  bg as provider ec2 associate-route-table --route-table-id "$rtb" --subnet-id "$subb" --output text >/dev/null
  bg as provider ec2 attach-internet-gateway --internet-gateway-id "$igw" --vpc-id "$net"
  join
  as provider ec2 create-route --route-table-id "$rtb" --destination-cidr-block 0.0.0.0/0 --gateway-id "$igw" >/dev/null
  bg expect_error RouteAlreadyExists as provider ec2 create-route --route-table-id "$rtb" --destination-cidr-block 0.0.0.0/0 --gateway-id "$igw"
  bg expect_error InvalidRoute.NotFound as provider ec2 delete-route --route-table-id "$rtb" --destination-cidr-block 192.0.2.0/24
  bg expect_error InvalidRouteTableID.NotFound as consumer ec2 describe-route-tables --route-table-ids "$rtb"
  check "subnet b's route table sends 0.0.0.0/0 to the attached $igw" \
    "$(as provider ec2 describe-route-tables --filters Name=association.subnet-id,Values="$subb" \
       --query "RouteTables[].[RouteTableId, Routes[?DestinationCidrBlock=='0.0.0.0/0'].GatewayId | [0], Routes[?DestinationCidrBlock=='0.0.0.0/0'].State | [0]]" --output text)" \
    "$rtb	$igw	active"
  join
}

prefix_lists() { # AWS's s3 list, and a customer list at version 2
  local pl; pids=()
  { check "describe-managed-prefix-lists shows AWS's com.amazonaws.us-east-1.s3" \
    "$(as provider ec2 describe-managed-prefix-lists --filters Name=prefix-list-name,Values=com.amazonaws.us-east-1.s3 \
       --query 'PrefixLists[].[OwnerId,AddressFamily]' --output text)" "AWS	IPv4"; } & bgpid
  pl=$(as provider ec2 create-managed-prefix-list --prefix-list-name partners --max-entries 5 --address-family IPv4 \
    --entries Cidr=203.0.113.0/24,Description=acme --query PrefixList.PrefixListId --output text)
  as provider ec2 modify-managed-prefix-list --prefix-list-id "$pl" --current-version 1 --add-entries Cidr=198.51.100.0/24 >/dev/null
  { check "customer prefix list $pl modified to version 2" \
    "$(as provider ec2 describe-managed-prefix-lists --prefix-list-ids "$pl" --query 'PrefixLists[0].[Version,State]' --output text)" "2	modify-complete"; } & bgpid
  bg expect_error InvalidPrefixListID.NotFound as consumer ec2 get-managed-prefix-list-entries --prefix-list-id "$pl"
  join
}

network_acl & bgpid
routes & bgpid
prefix_lists & bgpid
sections=("${pids[@]}"); pids=()

# Meanwhile: a security group with an ingress rule (one permission, four CIDRs: four rules).
sg=$(as provider ec2 create-security-group --group-name web --description "web tier" --vpc-id "$net" --query GroupId --output text)
perm='IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=10.0.0.0/8},{CidrIp=172.16.0.0/12},{CidrIp=192.168.0.0/16},{CidrIp=100.64.0.0/10}]'
check "authorize-security-group-ingress adds 4 rules" \
  "$(as provider ec2 authorize-security-group-ingress --group-id "$sg" --ip-permissions "$perm" --query 'length(SecurityGroupRules)')" 4
bg expect_error InvalidPermission.Duplicate as provider ec2 authorize-security-group-ingress --group-id "$sg" --protocol tcp --port 443 --cidr 10.0.0.0/8
{ check "describe-security-group-rules: 4 ingress on 443, 1 egress" \
  "$(as provider ec2 describe-security-group-rules --filters Name=group-id,Values="$sg" \
     --query 'join(`,`, [length(SecurityGroupRules[?!IsEgress && FromPort==`443`]), length(SecurityGroupRules[?IsEgress])][].to_string(@))' --output text)" 4,1; } & bgpid

# An instance takes an address; its interface is listed.
read -r inst ieni iip <<<"$(as provider ec2 run-instances --image-id ami-12345678 --count 1 --subnet-id "$suba" --security-group-ids "$sg" \
  --query 'Instances[0].[InstanceId,NetworkInterfaces[0].NetworkInterfaceId,PrivateIpAddress]' --output text)"
[[ $inst == i-* && $ieni == eni-* ]] || fail "run-instances returned '$inst' '$ieni'"
{ check "AvailableIpAddressCount drops to 10 after run-instances" \
  "$(as provider ec2 describe-subnets --subnet-ids "$suba" --query 'Subnets[0].AvailableIpAddressCount')" 10; } & bgpid
{ check "describe-network-interfaces shows $inst's interface $ieni at $iip" \
  "$(as provider ec2 describe-network-interfaces --filters Name=attachment.instance-id,Values="$inst" \
     --query 'NetworkInterfaces[].[NetworkInterfaceId,SubnetId,PrivateIpAddress,Status]' --output text)" "$ieni	$suba	$iip	in-use"; } & bgpid
bg expect_error DryRunOperation as provider ec2 run-instances --image-id ami-12345678 --count 1 --subnet-id "$suba" --dry-run
# A NAT instance turns its source/destination check off; its interface says so.
as provider ec2 modify-instance-attribute --instance-id "$inst" --no-source-dest-check >/dev/null
check "modify-instance-attribute --no-source-dest-check reaches the interface" \
  "$(as provider ec2 describe-network-interfaces --network-interface-ids "$ieni" --query 'NetworkInterfaces[0].SourceDestCheck')" false
bg expect_error UnsupportedOperation as provider ec2 modify-instance-attribute --instance-id "$inst" --instance-type Value=t3.micro

# Pagination: 7 rules (4+1 in web, 2 in the default group), pages of 5.
# (The CLI applies --query page by page, so count in the JSON.)
read -r n1 token <<<"$(as provider ec2 describe-security-group-rules --page-size 5 --max-items 6 --output json |
  python3 -c 'import json,sys; r=json.load(sys.stdin); print(len(r["SecurityGroupRules"]), r.get("NextToken", ""))')"
check "--page-size 5 --max-items 6 returns 6 rules and a NextToken" "$n1 ${token:+token}" "6 token"
{ check "--starting-token returns the 7th rule" \
  "$(as provider ec2 describe-security-group-rules --page-size 5 --starting-token "$token" --query 'length(SecurityGroupRules)')" 1; } & bgpid

# The consumer sees none of it (the sections check their own resources).
bg expect_error InvalidSubnetID.NotFound as consumer ec2 describe-subnets --subnet-ids "$suba"
bg expect_error InvalidInstanceID.NotFound as consumer ec2 describe-instances --instance-ids "$inst"
bg expect_error InvalidGroup.NotFound as consumer ec2 describe-security-groups --group-ids "$sg"
{ check "consumer lists no subnets" "$(as consumer ec2 describe-subnets --query 'length(Subnets)')" 0; } & bgpid
join
check "terminate-instances: $inst shutting-down (or terminated)" \
  "$(as provider ec2 terminate-instances --instance-ids "$inst" --query 'TerminatingInstances[0].CurrentState.Name' --output text | sed s/^terminated$/shutting-down/)" shutting-down
pids=("${sections[@]}")
join

# The IAM policy simulator evaluates an endpoint-style condition on aws:SourceVpce.
perimeter='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-0a1b2c3d4e5f60718"}}}]}'
simulate() {
  as consumer iam simulate-custom-policy --policy-input-list "$perimeter" --action-names s3:GetObject \
    --resource-arns arn:aws:s3:::bucket/key \
    --context-entries "ContextKeyName=aws:SourceVpce,ContextKeyValues=$1,ContextKeyType=string" \
    --query 'EvaluationResults[0].EvalDecision' --output text
}
check "simulate-custom-policy through the allowed endpoint" "$(simulate vpce-0a1b2c3d4e5f60718)" allowed
check "simulate-custom-policy through another endpoint" "$(simulate vpce-00000000000000000)" implicitDeny
echo "cli flow passed"
