package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func snNameTag(rt types.ResourceType, name string) []types.TagSpecification {
	return []types.TagSpecification{{ResourceType: rt, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}}}}
}

func snFilter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

func TestSubnetLifecycleAndFilters(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	prov, cons := newClients(srv, provider), newClients(srv, consumer)
	vpc := must[*ec2.CreateVpcOutput](t)(prov.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.20.0.0/16")}))
	vpcID := vpc.Vpc.VpcId

	out, err := prov.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String("10.20.1.0/24"),
		AvailabilityZone: aws.String("us-east-1b"), TagSpecifications: snNameTag(types.ResourceTypeSubnet, "app-b")})
	if err != nil {
		t.Fatal(err)
	}
	s := out.Subnet
	subnetID := aws.ToString(s.SubnetId)
	if !strings.HasPrefix(subnetID, "subnet-") || aws.ToString(s.AvailabilityZoneId) != "use1-az2" || aws.ToInt32(s.AvailableIpAddressCount) != 251 ||
		aws.ToString(s.SubnetArn) != "arn:aws:ec2:us-east-1:111111111111:subnet/"+subnetID || s.State != types.SubnetStateAvailable ||
		aws.ToString(s.OwnerId) != "111111111111" || len(s.Tags) != 1 {
		t.Fatalf("subnet = %+v", s)
	}

	_, err = prov.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String("10.20.1.128/25")})
	wantCode(t, err, "InvalidSubnet.Conflict")
	_, err = prov.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String("10.21.0.0/24")})
	wantCode(t, err, "InvalidSubnet.Range")
	_, err = prov.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String("10.20.9.0/24"), AvailabilityZone: aws.String("us-east-1q")})
	wantCode(t, err, "InvalidParameterValue")
	_, err = prov.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String("10.20.9.0/24"), DryRun: aws.Bool(true)})
	wantCode(t, err, "DryRunOperation")
	_, err = cons.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String("10.20.9.0/24")})
	wantCode(t, err, "InvalidVpcID.NotFound")

	for i := 2; i <= 7; i++ {
		must[*ec2.CreateSubnetOutput](t)(prov.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String("10.20." + strconv.Itoa(i) + ".0/28")}))
	}
	for _, tc := range []struct {
		f    types.Filter
		want int
	}{
		{snFilter("tag:Name", "app-*"), 1},
		{snFilter("vpc-id", aws.ToString(vpcID)), 7},
		{snFilter("availability-zone", "us-east-1b"), 2},
		{snFilter("cidr-block", "10.20.1.0/24"), 1},
		{snFilter("available-ip-address-count", "11"), 6},
		{snFilter("subnet-id", subnetID), 1},
	} {
		got, err := prov.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{tc.f}})
		if err != nil || len(got.Subnets) != tc.want {
			t.Errorf("filter %s=%v: %d subnets, %v; want %d", aws.ToString(tc.f.Name), tc.f.Values, len(got.Subnets), err, tc.want)
		}
	}
	seen := 0
	for p := ec2.NewDescribeSubnetsPaginator(prov.EC2, &ec2.DescribeSubnetsInput{MaxResults: aws.Int32(5)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(page.Subnets)
	}
	if seen != 7 {
		t.Fatalf("paginated %d subnets, want 7", seen)
	}

	if _, err := prov.EC2.ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{SubnetId: &subnetID, MapPublicIpOnLaunch: &types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	got := must[*ec2.DescribeSubnetsOutput](t)(prov.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnetID}}))
	if len(got.Subnets) != 1 || !aws.ToBool(got.Subnets[0].MapPublicIpOnLaunch) {
		t.Fatalf("after modify: %+v", got.Subnets)
	}
	_, err = prov.EC2.ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{SubnetId: &subnetID, EnableDns64: &types.AttributeBooleanValue{Value: aws.Bool(true)}})
	wantCode(t, err, "UnsupportedOperation")

	// Accounts are walls.
	_, err = cons.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnetID}})
	wantCode(t, err, "InvalidSubnetID.NotFound")
	if all := must[*ec2.DescribeSubnetsOutput](t)(cons.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})); len(all.Subnets) != 0 {
		t.Fatalf("consumer sees %d subnets", len(all.Subnets))
	}
	_, err = cons.EC2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: &subnetID})
	wantCode(t, err, "InvalidSubnetID.NotFound")

	if _, err := prov.EC2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: &subnetID}); err != nil {
		t.Fatal(err)
	}
	_, err = prov.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnetID}})
	wantCode(t, err, "InvalidSubnetID.NotFound")
}

func TestInstancesAndNetworkInterfaces(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	prov, cons := newClients(srv, provider), newClients(srv, consumer)
	vpc := must[*ec2.CreateVpcOutput](t)(prov.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.30.0.0/16")}))
	sub := must[*ec2.CreateSubnetOutput](t)(prov.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.30.0.0/28")}))
	subnetID := aws.ToString(sub.Subnet.SubnetId)
	ami := aws.String("ami-0123456789abcdef0")

	_, err := prov.EC2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: ami, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	wantCode(t, err, "VPCIdNotSpecified")
	_, err = prov.EC2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-nothex"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: &subnetID})
	wantCode(t, err, "InvalidAMIID.Malformed")
	_, err = prov.EC2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: ami, MinCount: aws.Int32(12), MaxCount: aws.Int32(12), SubnetId: &subnetID})
	wantCode(t, err, "InsufficientFreeAddressesInSubnet")
	_, err = prov.EC2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: ami, MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: &subnetID, DryRun: aws.Bool(true)})
	wantCode(t, err, "DryRunOperation")

	run, err := prov.EC2.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: ami, MinCount: aws.Int32(1), MaxCount: aws.Int32(2), SubnetId: &subnetID, ClientToken: aws.String("launch-1"),
		TagSpecifications: append(snNameTag(types.ResourceTypeInstance, "web"), snNameTag(types.ResourceTypeNetworkInterface, "web-eni")...),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(aws.ToString(run.ReservationId), "r-") || aws.ToString(run.OwnerId) != "111111111111" || len(run.Instances) != 2 {
		t.Fatalf("reservation = %+v", run)
	}
	first := run.Instances[0]
	instanceID := aws.ToString(first.InstanceId)
	if first.State.Name != types.InstanceStateNamePending || aws.ToInt32(first.State.Code) != 0 || aws.ToString(first.PrivateIpAddress) != "10.30.0.4" ||
		aws.ToString(first.PrivateDnsName) != "ip-10-30-0-4.ec2.internal" || aws.ToString(first.SubnetId) != subnetID ||
		aws.ToString(first.VpcId) != aws.ToString(vpc.Vpc.VpcId) || first.InstanceType != types.InstanceTypeT2Micro ||
		aws.ToString(first.Placement.AvailabilityZone) != aws.ToString(sub.Subnet.AvailabilityZone) || len(first.SecurityGroups) != 1 ||
		aws.ToString(first.SecurityGroups[0].GroupName) != "default" || len(first.NetworkInterfaces) != 1 || first.Architecture != types.ArchitectureValuesX8664 ||
		aws.ToInt32(run.Instances[1].AmiLaunchIndex) != 1 || first.LaunchTime == nil {
		t.Fatalf("instance = %+v", first)
	}
	eniID := aws.ToString(first.NetworkInterfaces[0].NetworkInterfaceId)
	if at := first.NetworkInterfaces[0].Attachment; at == nil || aws.ToInt32(at.DeviceIndex) != 0 || !aws.ToBool(at.DeleteOnTermination) {
		t.Fatalf("instance interface attachment = %+v", first.NetworkInterfaces[0].Attachment)
	}
	// Same client token: the same reservation, nothing new launched.
	again := must[*ec2.RunInstancesOutput](t)(prov.EC2.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: ami, MinCount: aws.Int32(1), MaxCount: aws.Int32(2), SubnetId: &subnetID, ClientToken: aws.String("launch-1"),
		TagSpecifications: append(snNameTag(types.ResourceTypeInstance, "web"), snNameTag(types.ResourceTypeNetworkInterface, "web-eni")...),
	}))
	if aws.ToString(again.ReservationId) != aws.ToString(run.ReservationId) {
		t.Fatalf("retry launched reservation %s, want %s", aws.ToString(again.ReservationId), aws.ToString(run.ReservationId))
	}

	desc := must[*ec2.DescribeInstancesOutput](t)(prov.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{
		Filters: []types.Filter{snFilter("tag:Name", "web"), snFilter("subnet-id", subnetID), snFilter("private-ip-address", "10.30.0.4")},
	}))
	if len(desc.Reservations) != 1 || len(desc.Reservations[0].Instances) != 1 || aws.ToString(desc.Reservations[0].Instances[0].InstanceId) != instanceID {
		t.Fatalf("describe instances = %+v", desc.Reservations)
	}
	_, err = prov.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	wantCode(t, err, "InvalidInstanceID.NotFound")

	enis := must[*ec2.DescribeNetworkInterfacesOutput](t)(prov.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []types.Filter{snFilter("attachment.instance-id", instanceID)},
	}))
	if len(enis.NetworkInterfaces) != 1 {
		t.Fatalf("interfaces of %s = %+v", instanceID, enis.NetworkInterfaces)
	}
	eni := enis.NetworkInterfaces[0]
	if aws.ToString(eni.NetworkInterfaceId) != eniID || aws.ToString(eni.PrivateIpAddress) != "10.30.0.4" || eni.Status != types.NetworkInterfaceStatusInUse ||
		eni.InterfaceType != types.NetworkInterfaceTypeInterface || aws.ToBool(eni.RequesterManaged) || eni.Attachment == nil ||
		aws.ToString(eni.Attachment.InstanceOwnerId) != "111111111111" || len(eni.Groups) != 1 || len(eni.PrivateIpAddresses) != 1 ||
		aws.ToString(eni.MacAddress) == "" || len(eni.TagSet) != 1 {
		t.Fatalf("interface = %+v", eni)
	}
	_, err = prov.EC2.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: &eniID})
	wantCode(t, err, "InvalidNetworkInterface.InUse")
	if _, err := prov.EC2.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: &eniID,
		SourceDestCheck: &types.AttributeBooleanValue{Value: aws.Bool(false)}}); err != nil {
		t.Fatal(err)
	}
	desc = must[*ec2.DescribeInstancesOutput](t)(prov.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{instanceID}}))
	if aws.ToBool(desc.Reservations[0].Instances[0].SourceDestCheck) {
		t.Fatalf("instance source/dest check did not follow its interface")
	}

	// A detached interface: created, listed, deleted.
	created := must[*ec2.CreateNetworkInterfaceOutput](t)(prov.EC2.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
		SubnetId: &subnetID, Description: aws.String("spare"), PrivateIpAddress: aws.String("10.30.0.10"),
	}))
	spare := created.NetworkInterface
	if spare.Status != types.NetworkInterfaceStatusAvailable || aws.ToString(spare.PrivateIpAddress) != "10.30.0.10" || spare.Attachment != nil {
		t.Fatalf("created interface = %+v", spare)
	}
	_, err = prov.EC2.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: &subnetID, PrivateIpAddress: aws.String("10.30.0.10")})
	wantCode(t, err, "InvalidIPAddress.InUse")
	all := must[*ec2.DescribeNetworkInterfacesOutput](t)(prov.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []types.Filter{snFilter("subnet-id", subnetID)},
	}))
	if len(all.NetworkInterfaces) != 3 {
		t.Fatalf("subnet has %d interfaces, want 3", len(all.NetworkInterfaces))
	}
	subs := must[*ec2.DescribeSubnetsOutput](t)(prov.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnetID}}))
	if aws.ToInt32(subs.Subnets[0].AvailableIpAddressCount) != 8 {
		t.Fatalf("available addresses = %d, want 8", aws.ToInt32(subs.Subnets[0].AvailableIpAddressCount))
	}
	if _, err := prov.EC2.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: spare.NetworkInterfaceId}); err != nil {
		t.Fatal(err)
	}
	_, err = prov.EC2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: &subnetID})
	wantCode(t, err, "DependencyViolation")

	// Another account sees none of it.
	if o := must[*ec2.DescribeInstancesOutput](t)(cons.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})); len(o.Reservations) != 0 {
		t.Fatalf("consumer sees %d reservations", len(o.Reservations))
	}
	if o := must[*ec2.DescribeNetworkInterfacesOutput](t)(cons.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{})); len(o.NetworkInterfaces) != 0 {
		t.Fatalf("consumer sees %d interfaces", len(o.NetworkInterfaces))
	}
	_, err = cons.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{instanceID}})
	wantCode(t, err, "InvalidInstanceID.NotFound")
	_, err = cons.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{instanceID}})
	wantCode(t, err, "InvalidInstanceID.NotFound")
	_, err = cons.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eniID}})
	wantCode(t, err, "InvalidNetworkInterfaceID.NotFound")

	term := must[*ec2.TerminateInstancesOutput](t)(prov.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{instanceID}}))
	if len(term.TerminatingInstances) != 1 {
		t.Fatalf("terminate = %+v", term)
	}
	ch := term.TerminatingInstances[0]
	// A controller may already have started the instance.
	if prev := ch.PreviousState.Name; prev != types.InstanceStateNamePending && prev != types.InstanceStateNameRunning {
		t.Fatalf("previous state = %s", prev)
	}
	if ch.CurrentState.Name != types.InstanceStateNameShuttingDown && ch.CurrentState.Name != types.InstanceStateNameTerminated {
		t.Fatalf("current state = %s (%d)", ch.CurrentState.Name, aws.ToInt32(ch.CurrentState.Code))
	}
}
