#!/usr/bin/env python3
"""Drives privlink with boto3: the same networking story as cli_flow.sh (issue
#2) and the PrivateLink control plane of cli_privatelink_flow.sh (issue #3).

Run by scripts_test.go against a fresh server (AWS_ENDPOINT_URL and the
PROVIDER_/CONSUMER_ key variables are set)."""
import os
import sys
import time

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


def expect_error(code, fn, what="", **kwargs):
    try:
        fn(**kwargs)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        if got != code:
            sys.exit(f"FAIL: expected {code}, got {got}: {e}")
        print(f"ok: {code} from {fn.__name__}" + (f" ({what})" if what else ""))
        return
    sys.exit(f"FAIL: expected {code} from {fn.__name__}")


def ok(msg):
    print("ok: " + msg)


def check(cond, msg, detail=None):
    if not cond:
        sys.exit(f"FAIL: {msg}: {detail!r}")
    ok(msg)


def poll(what, fn, timeout=30.0):
    """Calls fn until it returns a true value; fails after timeout seconds."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            sys.exit(f"FAIL: timed out waiting for {what}")
        time.sleep(0.2)


def vpc_story():
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
    ok("VPC lifecycle, tag filter and paginator")



def tags(rtype, name):
    return [{"ResourceType": rtype, "Tags": [{"Key": "Name", "Value": name}]}]


def networking(ec2, cons):
    """Issue #2: the provider's network, seen only by the provider."""
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16", TagSpecifications=tags("vpc", "net"))["Vpc"]
    vpc_id = vpc["VpcId"]
    check({"Key": "Name", "Value": "net"} in vpc["Tags"], "create_vpc returns its tags", vpc)
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    dns = [ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=a)[k]["Value"]
           for a, k in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames"))]
    check(dns == [True, True], "DNS support and hostnames enabled", dns)

    # Two subnets in two AZs; overlaps and out-of-range blocks are refused.
    sub_a = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.40.1.0/28", AvailabilityZone="us-east-1a",
                              TagSpecifications=tags("subnet", "net-a"))["Subnet"]
    sub_b = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.40.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]
    a_id, b_id = sub_a["SubnetId"], sub_b["SubnetId"]
    check((sub_a["AvailabilityZone"], sub_b["AvailabilityZone"]) == ("us-east-1a", "us-east-1b"), "subnets in us-east-1a and us-east-1b")
    check(sub_a["AvailableIpAddressCount"] == 11, "a /28 has 11 available addresses", sub_a["AvailableIpAddressCount"])
    expect_error("InvalidSubnet.Conflict", ec2.create_subnet, "overlap", VpcId=vpc_id, CidrBlock="10.40.1.0/24")
    expect_error("InvalidSubnet.Range", ec2.create_subnet, "outside the VPC", VpcId=vpc_id, CidrBlock="10.41.0.0/24")

    # A security group with one ingress rule.
    sg_id = ec2.create_security_group(GroupName="web", Description="web tier", VpcId=vpc_id)["GroupId"]
    https = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
    auth = ec2.authorize_security_group_ingress(GroupId=sg_id, IpPermissions=https)
    check(auth["Return"] and len(auth["SecurityGroupRules"]) == 1, "ingress rule authorized", auth)
    expect_error("InvalidPermission.Duplicate", ec2.authorize_security_group_ingress, "same rule", GroupId=sg_id, IpPermissions=https)
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg_id]}])["SecurityGroupRules"]
    ingress = [r for r in rules if not r["IsEgress"]]
    check(len(rules) == 2 and len(ingress) == 1 and ingress[0]["FromPort"] == 443 and ingress[0]["CidrIpv4"] == "10.0.0.0/8",
          "describe_security_group_rules: the 443 rule and the default egress", rules)

    # An instance takes one address; its interface is listed.
    expect_error("DryRunOperation", ec2.run_instances, "dry run", ImageId="ami-12345678", MinCount=1, MaxCount=1,
                 SubnetId=a_id, DryRun=True)
    inst = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=a_id,
                             SecurityGroupIds=[sg_id])["Instances"][0]
    inst_id = inst["InstanceId"]
    left = ec2.describe_subnets(SubnetIds=[a_id])["Subnets"][0]["AvailableIpAddressCount"]
    check(left == 10, "available addresses drop to 10 after run_instances", left)
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id", "Values": [inst_id]}])["NetworkInterfaces"]
    check(len(enis) == 1 and enis[0]["NetworkInterfaceId"] == inst["NetworkInterfaces"][0]["NetworkInterfaceId"]
          and enis[0]["SubnetId"] == a_id and enis[0]["PrivateIpAddress"] == inst["PrivateIpAddress"]
          and [g["GroupId"] for g in enis[0]["Groups"]] == [sg_id],
          "describe_network_interfaces shows the instance's interface", enis)

    # A network ACL with numbered entries, moved onto subnet a.
    acl_id = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
    entry = dict(NetworkAclId=acl_id, RuleNumber=100, Protocol="6", RuleAction="allow", Egress=False,
                 CidrBlock="10.0.0.0/8", PortRange={"From": 443, "To": 443})
    ec2.create_network_acl_entry(**entry)
    ec2.create_network_acl_entry(**dict(entry, RuleNumber=200, RuleAction="deny", CidrBlock="0.0.0.0/0", PortRange={"From": 22, "To": 22}))
    expect_error("NetworkAclEntryAlreadyExists", ec2.create_network_acl_entry, "rule 100 again", **dict(entry, CidrBlock="192.168.0.0/16"))
    default_acl = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [a_id]}])["NetworkAcls"][0]
    assoc = next(a["NetworkAclAssociationId"] for a in default_acl["Associations"] if a["SubnetId"] == a_id)
    new_assoc = ec2.replace_network_acl_association(AssociationId=assoc, NetworkAclId=acl_id)["NewAssociationId"]
    acl = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [a_id]}])["NetworkAcls"]
    numbers = [e["RuleNumber"] for e in acl[0]["Entries"] if not e["Egress"]] if acl else []
    check(default_acl["IsDefault"] and new_assoc != assoc and len(acl) == 1 and acl[0]["NetworkAclId"] == acl_id
          and numbers == [100, 200, 32767], "replace_network_acl_association moves subnet a to the ACL with entries 100, 200, *", acl)

    # A route table on subnet b, with a default route to an internet gateway.
    rtb_id = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=rtb_id, SubnetId=b_id)
    igw_id = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    ec2.create_route(RouteTableId=rtb_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)
    expect_error("RouteAlreadyExists", ec2.create_route, "0.0.0.0/0 again", RouteTableId=rtb_id,
                 DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)
    expect_error("InvalidRoute.NotFound", ec2.delete_route, "missing route", RouteTableId=rtb_id, DestinationCidrBlock="192.0.2.0/24")
    tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [b_id]}])["RouteTables"]
    routes = {r.get("DestinationCidrBlock"): r for r in tables[0]["Routes"]} if tables else {}
    check(len(tables) == 1 and tables[0]["RouteTableId"] == rtb_id and routes["10.40.0.0/16"]["GatewayId"] == "local"
          and routes.get("0.0.0.0/0", {}).get("GatewayId") == igw_id and routes["0.0.0.0/0"]["State"] == "active",
          "subnet b routes 0.0.0.0/0 to the attached internet gateway", tables)
    gws = ec2.describe_internet_gateways(InternetGatewayIds=[igw_id])["InternetGateways"]
    check(gws[0]["Attachments"] == [{"State": "available", "VpcId": vpc_id}], "internet gateway attached", gws)

    # Prefix lists: AWS's s3 list, and one of our own at version 2.
    s3 = ec2.describe_managed_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": ["com.amazonaws.us-east-1.s3"]}])["PrefixLists"]
    check(len(s3) == 1 and s3[0]["OwnerId"] == "AWS" and s3[0]["PrefixListId"].startswith("pl-"),
          "describe_managed_prefix_lists shows AWS's com.amazonaws.us-east-1.s3", s3)
    pl = ec2.create_managed_prefix_list(PrefixListName="partners", MaxEntries=5, AddressFamily="IPv4",
                                        Entries=[{"Cidr": "203.0.113.0/24", "Description": "acme"}])["PrefixList"]
    pl_id = pl["PrefixListId"]
    mod = ec2.modify_managed_prefix_list(PrefixListId=pl_id, CurrentVersion=1, AddEntries=[{"Cidr": "198.51.100.0/24"}])["PrefixList"]
    entries = ec2.get_managed_prefix_list_entries(PrefixListId=pl_id)["Entries"]
    check(pl["Version"] == 1 and mod["Version"] == 2 and sorted(e["Cidr"] for e in entries) == ["198.51.100.0/24", "203.0.113.0/24"],
          "customer prefix list modified to version 2 with two entries", (pl, mod, entries))

    # Paginators: 6 leftover VPCs of vpc_story plus this one.
    for op, key, want in (("describe_route_tables", "RouteTables", 8), ("describe_security_groups", "SecurityGroups", 8)):
        sizes = [len(p[key]) for p in ec2.get_paginator(op).paginate(PaginationConfig={"PageSize": 5})]
        check(sizes == [5, 3], f"{op} paginator: pages of {sizes}", sizes)
    first = ec2.get_paginator("describe_subnets").paginate(PaginationConfig={"MaxItems": 1, "PageSize": 5}).build_full_result()
    rest = ec2.get_paginator("describe_subnets").paginate(PaginationConfig={"StartingToken": first["NextToken"], "PageSize": 5}).build_full_result()
    ids = [s["SubnetId"] for s in first["Subnets"] + rest["Subnets"]]
    check(sorted(ids) == sorted([a_id, b_id]), "describe_subnets paginator resumes after MaxItems=1", ids)
    expect_error("DryRunOperation", ec2.create_security_group, "dry run", GroupName="x", Description="x", VpcId=vpc_id, DryRun=True)

    # The consumer sees none of it.
    for fn, code, kw in (
        (cons.describe_vpcs, "InvalidVpcID.NotFound", {"VpcIds": [vpc_id]}),
        (cons.describe_subnets, "InvalidSubnetID.NotFound", {"SubnetIds": [a_id]}),
        (cons.describe_instances, "InvalidInstanceID.NotFound", {"InstanceIds": [inst_id]}),
        (cons.describe_security_groups, "InvalidGroup.NotFound", {"GroupIds": [sg_id]}),
        (cons.describe_network_acls, "InvalidNetworkAclID.NotFound", {"NetworkAclIds": [acl_id]}),
        (cons.describe_route_tables, "InvalidRouteTableID.NotFound", {"RouteTableIds": [rtb_id]}),
        (cons.describe_internet_gateways, "InvalidInternetGatewayID.NotFound", {"InternetGatewayIds": [igw_id]}),
        (cons.get_managed_prefix_list_entries, "InvalidPrefixListID.NotFound", {"PrefixListId": pl_id}),
        (cons.create_subnet, "InvalidVpcID.NotFound", {"VpcId": vpc_id, "CidrBlock": "10.40.9.0/24"}),
    ):
        expect_error(code, fn, "consumer", **kw)
    seen = [len(cons.describe_subnets()["Subnets"]), len(cons.describe_instances()["Reservations"]),
            len(cons.describe_network_interfaces()["NetworkInterfaces"])]
    check(seen == [0, 0, 0], "consumer lists no subnets, instances or interfaces", seen)

    # Terminate: the address comes back.
    term = ec2.terminate_instances(InstanceIds=[inst_id])["TerminatingInstances"][0]
    check(term["CurrentState"]["Name"] in ("shutting-down", "terminated"), "terminate_instances: " + term["CurrentState"]["Name"], term)
    poll("instance terminated", lambda: ec2.describe_instances(InstanceIds=[inst_id])["Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated")
    poll("address released", lambda: ec2.describe_subnets(SubnetIds=[a_id])["Subnets"][0]["AvailableIpAddressCount"] == 11)
    ok("instance terminated and subnet a back to 11 addresses")
    return vpc_id, [a_id, b_id], s3[0]["PrefixListId"]


def privatelink(ec2, elb, cons, outsider, vpc_id, subnets, s3_pl):
    """Issue #3: an NLB published as an endpoint service, consumed from another account."""
    lb = elb.create_load_balancer(Name="svc", Type="network", Scheme="internal", Subnets=subnets)["LoadBalancers"][0]
    tg = elb.create_target_group(Name="svc", Protocol="TCP", Port=8080, VpcId=vpc_id, TargetType="ip")["TargetGroups"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    check(lb["Type"] == "network" and lb["Scheme"] == "internal", "NLB with target group and TCP:80 listener", lb)

    svc = ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[lb["LoadBalancerArn"]],
                                                        AcceptanceRequired=True)["ServiceConfiguration"]
    svc_id, svc_name = svc["ServiceId"], svc["ServiceName"]
    check(svc["ServiceState"] == "Available" and svc["AcceptanceRequired"] and svc_name == "com.amazonaws.vpce.us-east-1." + svc_id,
          "endpoint service " + svc_name + " requires acceptance", svc)
    expect_error("InvalidServiceName", cons.describe_vpc_endpoint_services, "consumer before permission", ServiceNames=[svc_name])
    ec2.modify_vpc_endpoint_service_permissions(ServiceId=svc_id, AddAllowedPrincipals=["arn:aws:iam::222222222222:root"])
    perms = ec2.describe_vpc_endpoint_service_permissions(ServiceId=svc_id)["AllowedPrincipals"]
    check([p["Principal"] for p in perms] == ["arn:aws:iam::222222222222:root"], "consumer account root allowed", perms)
    details = cons.describe_vpc_endpoint_services(ServiceNames=[svc_name])["ServiceDetails"]
    check(len(details) == 1 and details[0]["Owner"] == "111111111111" and details[0]["AcceptanceRequired"],
          "consumer describes the service by name", details)
    expect_error("InvalidServiceName", outsider.describe_vpc_endpoint_services, "outsider", ServiceNames=[svc_name])

    # Consumer: an interface endpoint from an overlapping VPC.
    cvpc = cons.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    csub = cons.create_subnet(VpcId=cvpc, CidrBlock="10.40.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    ep = cons.create_vpc_endpoint(VpcId=cvpc, ServiceName=svc_name, VpcEndpointType="Interface", SubnetIds=[csub])["VpcEndpoint"]
    ep_id = ep["VpcEndpointId"]
    check(ep["State"] == "pendingAcceptance" and len(ep["DnsEntries"]) >= 1 and len(ep["NetworkInterfaceIds"]) == 1
          and all(d["DnsName"].endswith(svc_id + ".us-east-1.vpce.amazonaws.com") for d in ep["DnsEntries"]),
          f"interface endpoint {ep_id} pendingAcceptance with {len(ep['DnsEntries'])} DNS entries and one interface", ep)
    eni = cons.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"])["NetworkInterfaces"][0]
    check(eni["InterfaceType"] == "vpc_endpoint" and eni["SubnetId"] == csub and eni["RequesterManaged"],
          "endpoint interface is a requester-managed vpc_endpoint ENI in the subnet", eni)

    conns = ec2.describe_vpc_endpoint_connections(Filters=[{"Name": "service-id", "Values": [svc_id]}])["VpcEndpointConnections"]
    check(len(conns) == 1 and conns[0]["VpcEndpointId"] == ep_id and conns[0]["VpcEndpointOwner"] == "222222222222"
          and conns[0]["VpcEndpointState"] == "pendingAcceptance", "provider sees the pending connection", conns)
    acc = ec2.accept_vpc_endpoint_connections(ServiceId=svc_id, VpcEndpointIds=[ep_id])
    check(acc["Unsuccessful"] == [], "provider accepts the connection", acc)
    poll("endpoint available", lambda: cons.describe_vpc_endpoints(VpcEndpointIds=[ep_id])["VpcEndpoints"][0]["State"] == "available")
    conns = ec2.describe_vpc_endpoint_connections(Filters=[{"Name": "vpc-endpoint-id", "Values": [ep_id]}])["VpcEndpointConnections"]
    check(conns[0]["VpcEndpointState"] == "available", "endpoint and connection available", conns)

    # A gateway endpoint for s3 routes the s3 prefix list through itself.
    rtb = cons.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [cvpc]}])["RouteTables"][0]["RouteTableId"]

    def s3_route():
        routes = cons.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Routes"]
        return next((r for r in routes if r.get("DestinationPrefixListId") == s3_pl), None)

    gw = cons.create_vpc_endpoint(VpcId=cvpc, ServiceName="com.amazonaws.us-east-1.s3", VpcEndpointType="Gateway",
                                  RouteTableIds=[rtb])["VpcEndpoint"]
    route = s3_route()
    check(gw["RouteTableIds"] == [rtb] and route is not None and route["GatewayId"] == gw["VpcEndpointId"],
          f"gateway endpoint adds a {s3_pl} route via {gw['VpcEndpointId']}", route)
    dele = cons.delete_vpc_endpoints(VpcEndpointIds=[gw["VpcEndpointId"]])
    check(dele["Unsuccessful"] == [], "gateway endpoint deleted", dele)
    poll("s3 route removed", lambda: s3_route() is None)
    ok("deleting the gateway endpoint removes its route")

    dele = cons.delete_vpc_endpoints(VpcEndpointIds=[ep_id])
    left = cons.describe_vpc_endpoints(Filters=[{"Name": "vpc-endpoint-id", "Values": [ep_id]}])["VpcEndpoints"]
    check(dele["Unsuccessful"] == [] and all(e["State"] in ("deleting", "deleted") for e in left),
          "delete_vpc_endpoints: " + ",".join(e["State"] for e in left) if left else "delete_vpc_endpoints: gone", left)


def main():
    vpc_story()
    ec2, cons = client("ec2", "PROVIDER"), client("ec2", "CONSUMER")
    vpc_id, subnets, s3_pl = networking(ec2, cons)
    privatelink(ec2, client("elbv2", "PROVIDER"), cons, client("ec2", "OUTSIDER"), vpc_id, subnets, s3_pl)
    print("boto3 flow passed")


if __name__ == "__main__":
    main()
