package controlplane

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

const snAMI = "ami-0123456789abcdef0"

func snInt(n int) *int { return &n }

// putGroup stores a security group directly (the group family has its own tests).
func snPutGroup(t *testing.T, cp *ControlPlane, account, vpcID, name string) string {
	t.Helper()
	id := cloud.NewID("sg")
	cp.DB().Update(context.Background(), func(tx *store.Tx) error {
		tx.Put(cloud.KindSecurityGroup, id, &cloud.SecurityGroup{Meta: cloud.Meta{ID: id, OwnerID: account, Region: "us-east-1"}, GroupName: name, VpcID: vpcID})
		return nil
	})
	return id
}

func TestRunInstancesRules(t *testing.T) {
	cp := newTestCP(t)
	vpc := mustVpc(t, cp, snAcct, "10.0.0.0/16")
	otherVpc := mustVpc(t, cp, snAcct, "10.1.0.0/16")
	tests := []struct {
		name     string
		in       RunInstancesInput
		wantCode string
		wantN    int
	}{
		{name: "one", in: RunInstancesInput{MinCount: snInt(1), MaxCount: snInt(1)}, wantN: 1},
		{name: "as many as fit", in: RunInstancesInput{MinCount: snInt(1), MaxCount: snInt(20)}, wantN: 11},
		{name: "exactly all", in: RunInstancesInput{MinCount: snInt(11), MaxCount: snInt(11)}, wantN: 11},
		{name: "min does not fit", in: RunInstancesInput{MinCount: snInt(12), MaxCount: snInt(20)}, wantCode: "InsufficientFreeAddressesInSubnet"},
		{name: "min zero", in: RunInstancesInput{MinCount: snInt(0), MaxCount: snInt(1)}, wantCode: "InvalidParameterValue"},
		{name: "max below min", in: RunInstancesInput{MinCount: snInt(3), MaxCount: snInt(2)}, wantCode: "InvalidParameterValue"},
		{name: "no min", in: RunInstancesInput{MaxCount: snInt(2)}, wantCode: "MissingParameter"},
		{name: "no image", in: RunInstancesInput{ImageID: "-", MinCount: snInt(1), MaxCount: snInt(1)}, wantCode: "MissingParameter"},
		{name: "bad image", in: RunInstancesInput{ImageID: "ami-xyz", MinCount: snInt(1), MaxCount: snInt(1)}, wantCode: "InvalidAMIID.Malformed"},
		{name: "short image", in: RunInstancesInput{ImageID: "ami-12345678", MinCount: snInt(1), MaxCount: snInt(1)}, wantN: 1},
		{name: "bad type", in: RunInstancesInput{InstanceType: "huge", MinCount: snInt(1), MaxCount: snInt(1)}, wantCode: "InvalidParameterValue"},
		{name: "no subnet", in: RunInstancesInput{SubnetID: "-", MinCount: snInt(1), MaxCount: snInt(1)}, wantCode: "VPCIdNotSpecified"},
		{name: "unknown subnet", in: RunInstancesInput{SubnetID: "subnet-0123456789abcdef0", MinCount: snInt(1), MaxCount: snInt(1)}, wantCode: "InvalidSubnetID.NotFound"},
		{name: "ip with two", in: RunInstancesInput{PrivateIPAddress: "10.0.0.9", MinCount: snInt(1), MaxCount: snInt(2)}, wantCode: "InvalidParameterCombination"},
		{name: "ip", in: RunInstancesInput{PrivateIPAddress: "10.0.0.9", MinCount: snInt(1), MaxCount: snInt(1)}, wantN: 1},
		{name: "reserved ip", in: RunInstancesInput{PrivateIPAddress: "10.0.0.1", MinCount: snInt(1), MaxCount: snInt(1)}, wantCode: "InvalidParameterValue"},
		{name: "group of another vpc", in: RunInstancesInput{SecurityGroupIDs: []string{otherVpc.DefaultSecurityGroupID}, MinCount: snInt(1), MaxCount: snInt(1)}, wantCode: "InvalidGroup.NotFound"},
		{name: "group names", in: RunInstancesInput{SecurityGroupNames: []string{"default"}, MinCount: snInt(1), MaxCount: snInt(1)}, wantCode: "InvalidParameterCombination"},
		{name: "bad tag type", in: RunInstancesInput{Tags: []TagSpec{{ResourceType: "volume", Tags: cloud.Tags{{Key: "a"}}}}, MinCount: snInt(1), MaxCount: snInt(1)}, wantCode: "InvalidParameterValue"},
		{name: "interface spec", in: RunInstancesInput{SubnetID: "-", NetworkInterfaces: []InstanceInterfaceSpec{{DeviceIndex: snInt(0)}}, MinCount: snInt(1), MaxCount: snInt(1)}, wantN: 1},
		{name: "interface spec index 1", in: RunInstancesInput{SubnetID: "-", NetworkInterfaces: []InstanceInterfaceSpec{{DeviceIndex: snInt(1)}}, MinCount: snInt(1), MaxCount: snInt(1)}, wantCode: "InvalidParameterValue"},
		{name: "interface and subnet", in: RunInstancesInput{NetworkInterfaces: []InstanceInterfaceSpec{{DeviceIndex: snInt(0)}}, MinCount: snInt(1), MaxCount: snInt(1)}, wantCode: "InvalidParameterCombination"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A fresh /28 per case: 11 usable addresses.
			s := mkSubnet(t, cp, snAcct, vpc.ID, "10.0."+strconv.Itoa(i)+".0/28")
			in := tc.in
			switch in.ImageID {
			case "":
				in.ImageID = snAMI
			case "-":
				in.ImageID = ""
			}
			switch in.SubnetID {
			case "":
				in.SubnetID = s.ID
			case "-":
				in.SubnetID = ""
			}
			for j := range in.NetworkInterfaces {
				in.NetworkInterfaces[j].SubnetID = s.ID
			}
			if in.PrivateIPAddress != "" {
				in.PrivateIPAddress = "10.0." + strconv.Itoa(i) + in.PrivateIPAddress[len("10.0.0"):]
			}
			res, err := cp.RunInstances(context.Background(), rootCall(snAcct, "ec2:RunInstances"), in)
			if got := errCode(err); got != tc.wantCode {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.wantCode)
			}
			if err != nil {
				// Nothing was allocated by a refused launch.
				got, _, _ := cp.DescribeSubnets(context.Background(), rootCall(snAcct, "ec2:DescribeSubnets"), DescribeInput{IDs: []string{s.ID}})
				if got[0].AvailableIPAddressCount != 11 {
					t.Fatalf("refused launch left %d free addresses", got[0].AvailableIPAddressCount)
				}
				return
			}
			if len(res.Instances) != tc.wantN {
				t.Fatalf("launched %d, want %d", len(res.Instances), tc.wantN)
			}
			for k, v := range res.Instances {
				if v.State != InstancePending || v.AmiLaunchIndex != k || v.Interface == nil || v.Interface.InstanceID != v.ID ||
					v.PrivateIPAddress != v.Interface.PrivateIPAddress || len(v.Groups) != 1 || v.Groups[0].ID != vpc.DefaultSecurityGroupID ||
					v.Groups[0].Name != "default" || v.InstanceType != "t2.micro" && in.InstanceType == "" {
					t.Errorf("instance %d = %+v (interface %+v)", k, v.Instance, v.Interface)
				}
			}
		})
	}
}

func TestInstanceLifecycle(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, snAcct, "10.0.0.0/16")
	s := mkSubnet(t, cp, snAcct, vpc.ID, "10.0.0.0/28")
	res, err := cp.RunInstances(ctx, rootCall(snAcct, "ec2:RunInstances"), RunInstancesInput{ImageID: snAMI, MinCount: snInt(1), MaxCount: snInt(1), SubnetID: s.ID,
		Tags: []TagSpec{{ResourceType: "instance", Tags: cloud.Tags{{Key: "Name", Value: "web"}}}, {ResourceType: "network-interface", Tags: cloud.Tags{{Key: "role", Value: "eni"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	inst := res.Instances[0]
	if v, _ := inst.Tags.Get("Name"); v != "web" {
		t.Errorf("instance tags = %v", inst.Tags)
	}
	if v, _ := inst.Interface.Tags.Get("role"); v != "eni" {
		t.Errorf("interface tags = %v", inst.Interface.Tags)
	}
	describe := func(filters ...cloud.Filter) *InstanceView {
		t.Helper()
		res, _, err := cp.DescribeInstances(ctx, rootCall(snAcct, "ec2:DescribeInstances"), DescribeInput{IDs: []string{inst.ID}, Filters: filters})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) == 0 {
			return nil
		}
		return res[0].Instances[0]
	}
	if err := cp.InstanceTerminated(ctx, inst.ID); errCode(err) != "IncorrectState" {
		t.Fatalf("InstanceTerminated while pending: %v", err)
	}
	if err := cp.InstanceRunning(ctx, "i-0123456789abcdef0"); errCode(err) != "InvalidInstanceID.NotFound" {
		t.Fatalf("InstanceRunning of unknown instance: %v", err)
	}
	for i := 0; i < 2; i++ { // the second call is a no-op
		if err := cp.InstanceRunning(ctx, inst.ID); err != nil {
			t.Fatal(err)
		}
	}
	if v := describe(cloud.Filter{Name: "instance-state-code", Values: []string{"16"}}); v == nil || v.State != InstanceRunning {
		t.Fatalf("after InstanceRunning: %+v", v)
	}
	for _, f := range []cloud.Filter{
		{Name: "instance-state-name", Values: []string{"running"}},
		{Name: "subnet-id", Values: []string{s.ID}},
		{Name: "vpc-id", Values: []string{vpc.ID}},
		{Name: "private-ip-address", Values: []string{"10.0.0.4"}},
		{Name: "private-dns-name", Values: []string{"ip-10-0-0-4.ec2.internal"}},
		{Name: "availability-zone", Values: []string{s.AvailabilityZone}},
		{Name: "instance-type", Values: []string{"t2.micro"}},
		{Name: "image-id", Values: []string{snAMI}},
		{Name: "network-interface.network-interface-id", Values: []string{inst.NetworkInterfaceID}},
		{Name: "network-interface.attachment.instance-id", Values: []string{inst.ID}},
		{Name: "instance.group-id", Values: []string{vpc.DefaultSecurityGroupID}},
		{Name: "instance.group-name", Values: []string{"default"}},
		{Name: "reservation-id", Values: []string{res.ID}},
		{Name: "owner-id", Values: []string{snAcct}},
		{Name: "tag:Name", Values: []string{"w*"}},
		{Name: "tenancy", Values: []string{"default"}},
	} {
		if v := describe(f); v == nil {
			t.Errorf("filter %s=%v does not match the instance", f.Name, f.Values)
		}
	}
	if v := describe(cloud.Filter{Name: "instance-state-name", Values: []string{"pending"}}); v != nil {
		t.Errorf("running instance matches instance-state-name=pending")
	}
	if _, _, err := cp.DescribeInstances(ctx, rootCall(snAcct, "ec2:DescribeInstances"), DescribeInput{Filters: []cloud.Filter{{Name: "nope", Values: []string{"x"}}}}); errCode(err) != "InvalidParameterValue" {
		t.Errorf("unknown filter: %v", err)
	}
	five := 5
	if _, _, err := cp.DescribeInstances(ctx, rootCall(snAcct, "ec2:DescribeInstances"), DescribeInput{IDs: []string{inst.ID}, Page: Page{MaxResults: &five}}); errCode(err) != "InvalidParameterCombination" {
		t.Errorf("IDs with MaxResults: %v", err)
	}
	// Security groups follow the interface.
	sg := snPutGroup(t, cp, snAcct, vpc.ID, "web")
	if err := cp.ModifyNetworkInterfaceAttribute(ctx, rootCall(snAcct, "ec2:ModifyNetworkInterfaceAttribute"),
		ModifyNetworkInterfaceInput{NetworkInterfaceID: inst.NetworkInterfaceID, SecurityGroupIDs: []string{sg}}); err != nil {
		t.Fatal(err)
	}
	if v := describe(cloud.Filter{Name: "instance.group-id", Values: []string{sg}}); v == nil || len(v.Groups) != 1 || v.Groups[0].Name != "web" {
		t.Fatalf("groups after modify: %+v", v)
	}
	// The source/destination check is the primary interface's.
	if err := cp.ModifyInstanceSourceDestCheck(ctx, rootCall(snAcct, "ec2:ModifyInstanceAttribute"), inst.ID, false); err != nil {
		t.Fatal(err)
	}
	if v := describe(cloud.Filter{Name: "source-dest-check", Values: []string{"false"}}); v == nil {
		t.Fatal("source-dest-check=false does not match after ModifyInstanceSourceDestCheck")
	}
	if err := cp.ModifyInstanceSourceDestCheck(ctx, rootCall(snOther, "ec2:ModifyInstanceAttribute"), inst.ID, true); errCode(err) != "InvalidInstanceID.NotFound" {
		t.Fatalf("modify by another account: %v", err)
	}
	if err := cp.DeleteNetworkInterface(ctx, rootCall(snAcct, "ec2:DeleteNetworkInterface"), inst.NetworkInterfaceID); errCode(err) != "InvalidNetworkInterface.InUse" {
		t.Fatalf("delete attached interface: %v", err)
	}
	if _, err := cp.TerminateInstances(ctx, rootCall(snOther, "ec2:TerminateInstances"), []string{inst.ID}); errCode(err) != "InvalidInstanceID.NotFound" {
		t.Fatalf("terminate by another account: %v", err)
	}
	if _, err := cp.TerminateInstances(ctx, rootCall(snAcct, "ec2:TerminateInstances"), []string{"i-nope"}); errCode(err) != "InvalidInstanceID.Malformed" {
		t.Fatalf("terminate malformed: %v", err)
	}
	changes, err := cp.TerminateInstances(ctx, rootCall(snAcct, "ec2:TerminateInstances"), []string{inst.ID})
	if err != nil || len(changes) != 1 || changes[0].PreviousState != InstanceRunning || changes[0].CurrentState != InstanceShuttingDown {
		t.Fatalf("terminate = %+v, %v", changes, err)
	}
	if err := cp.ModifyInstanceSourceDestCheck(ctx, rootCall(snAcct, "ec2:ModifyInstanceAttribute"), inst.ID, true); errCode(err) != "IncorrectInstanceState" {
		t.Fatalf("modify a shutting-down instance: %v", err)
	}
	if err := cp.InstanceTerminated(ctx, inst.ID); err != nil {
		t.Fatal(err)
	}
	v := describe()
	if v.State != InstanceTerminated || v.Interface != nil || len(v.Groups) != 1 || v.Groups[0].ID != sg || v.TerminatedAt == "" {
		t.Fatalf("terminated instance = %+v", v.Instance)
	}
	if got := describe(cloud.Filter{Name: "subnet-id", Values: []string{s.ID}}); got != nil {
		t.Errorf("terminated instance still matches subnet-id")
	}
	subnets, _, _ := cp.DescribeSubnets(ctx, rootCall(snAcct, "ec2:DescribeSubnets"), DescribeInput{IDs: []string{s.ID}})
	if subnets[0].AvailableIPAddressCount != 11 {
		t.Errorf("address not released: %d free", subnets[0].AvailableIPAddressCount)
	}
	changes, _ = cp.TerminateInstances(ctx, rootCall(snAcct, "ec2:TerminateInstances"), []string{inst.ID})
	if changes[0].PreviousState != InstanceTerminated || changes[0].CurrentState != InstanceTerminated {
		t.Errorf("terminate again = %+v", changes)
	}
	if n, err := cp.PurgeTerminatedInstances(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("purge of recent = %d, %v", n, err)
	}
	if n, err := cp.PurgeTerminatedInstances(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("purge = %d, %v", n, err)
	}
	if _, _, err := cp.DescribeInstances(ctx, rootCall(snAcct, "ec2:DescribeInstances"), DescribeInput{IDs: []string{inst.ID}}); errCode(err) != "InvalidInstanceID.NotFound" {
		t.Fatalf("purged instance: %v", err)
	}
	if err := cp.DeleteSubnet(ctx, rootCall(snAcct, "ec2:DeleteSubnet"), s.ID); err != nil {
		t.Fatalf("delete emptied subnet: %v", err)
	}
}

func TestNetworkInterfaceRules(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, snAcct, "10.0.0.0/16")
	other := mustVpc(t, cp, snAcct, "10.1.0.0/16")
	s := mkSubnet(t, cp, snAcct, vpc.ID, "10.0.0.0/24")
	c := rootCall(snAcct, "ec2:CreateNetworkInterface")
	eni, err := cp.CreateNetworkInterface(ctx, c, CreateNetworkInterfaceInput{SubnetID: s.ID, Description: "mine", ClientToken: "t1"})
	if err != nil || eni.Attachment != nil || eni.Groups[0].ID != vpc.DefaultSecurityGroupID {
		t.Fatalf("create = %+v, %v", eni, err)
	}
	again, err := cp.CreateNetworkInterface(ctx, c, CreateNetworkInterfaceInput{SubnetID: s.ID, Description: "mine", ClientToken: "t1"})
	if err != nil || again.ID != eni.ID {
		t.Fatalf("idempotent create = %+v, %v", again, err)
	}
	groups := make([]string, 6)
	for i := range groups {
		groups[i] = snPutGroup(t, cp, snAcct, vpc.ID, "g"+strconv.Itoa(i))
	}
	mod := func(in ModifyNetworkInterfaceInput) error {
		in.NetworkInterfaceID = eni.ID
		return cp.ModifyNetworkInterfaceAttribute(ctx, rootCall(snAcct, "ec2:ModifyNetworkInterfaceAttribute"), in)
	}
	no, desc := false, "new"
	for _, tc := range []struct {
		name string
		in   ModifyNetworkInterfaceInput
		code string
	}{
		{"five groups", ModifyNetworkInterfaceInput{SecurityGroupIDs: groups[:5]}, ""},
		{"six groups", ModifyNetworkInterfaceInput{SecurityGroupIDs: groups}, "SecurityGroupsPerInterfaceLimitExceeded"},
		{"group of other vpc", ModifyNetworkInterfaceInput{SecurityGroupIDs: []string{other.DefaultSecurityGroupID}}, "InvalidGroup.NotFound"},
		{"malformed group", ModifyNetworkInterfaceInput{SecurityGroupIDs: []string{"default"}}, "InvalidGroupId.Malformed"},
		{"source dest check", ModifyNetworkInterfaceInput{SourceDestCheck: &no}, ""},
		{"description", ModifyNetworkInterfaceInput{Description: &desc}, ""},
		{"two attributes", ModifyNetworkInterfaceInput{Description: &desc, SourceDestCheck: &no}, "InvalidParameterCombination"},
		{"none", ModifyNetworkInterfaceInput{}, "InvalidParameterCombination"},
	} {
		if err := mod(tc.in); errCode(err) != tc.code {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.code)
		}
	}
	got, _, err := cp.DescribeNetworkInterfaces(ctx, rootCall(snAcct, "ec2:DescribeNetworkInterfaces"), DescribeInput{
		Filters: []cloud.Filter{{Name: "group-id", Values: []string{groups[4]}}, {Name: "source-dest-check", Values: []string{"false"}}, {Name: "description", Values: []string{"new"}}},
	})
	if err != nil || len(got) != 1 || len(got[0].Groups) != 5 {
		t.Fatalf("describe after modify = %+v, %v", got, err)
	}

	// A service-managed interface is listed but cannot be changed or deleted.
	var managed *cloud.NetworkInterface
	cp.DB().Update(ctx, func(tx *store.Tx) error {
		sub, _ := store.Get[cloud.Subnet](tx, cloud.KindSubnet, s.ID)
		managed, err = cp.allocateInterface(tx, rootCall(snAcct, "ec2:CreateVpcEndpoint"), sub, InterfaceSpec{
			InterfaceType: cloud.InterfaceTypeVpcEndpoint, RequesterManaged: true, RequesterID: "727180483921", OwnerResource: "vpce-0123456789abcdef0",
			SecurityGroupIDs: []string{vpc.DefaultSecurityGroupID},
		})
		return err
	})
	if err := cp.DeleteNetworkInterface(ctx, rootCall(snAcct, "ec2:DeleteNetworkInterface"), managed.ID); errCode(err) != "OperationNotPermitted" {
		t.Errorf("delete managed: %v", err)
	}
	if err := cp.ModifyNetworkInterfaceAttribute(ctx, rootCall(snAcct, "ec2:ModifyNetworkInterfaceAttribute"),
		ModifyNetworkInterfaceInput{NetworkInterfaceID: managed.ID, SecurityGroupIDs: groups[:1]}); errCode(err) != "OperationNotPermitted" {
		t.Errorf("modify managed: %v", err)
	}
	got, _, _ = cp.DescribeNetworkInterfaces(ctx, rootCall(snAcct, "ec2:DescribeNetworkInterfaces"), DescribeInput{
		Filters: []cloud.Filter{{Name: "requester-managed", Values: []string{"true"}}, {Name: "interface-type", Values: []string{"vpc_endpoint"}}},
	})
	if len(got) != 1 || got[0].Attachment == nil || got[0].Attachment.InstanceOwnerID != "amazon-aws" {
		t.Fatalf("managed interface view = %+v", got)
	}

	// Accounts are walls.
	if got, _, _ := cp.DescribeNetworkInterfaces(ctx, rootCall(snOther, "ec2:DescribeNetworkInterfaces"), DescribeInput{}); len(got) != 0 {
		t.Errorf("other account sees %d interfaces", len(got))
	}
	if err := cp.DeleteNetworkInterface(ctx, rootCall(snOther, "ec2:DeleteNetworkInterface"), eni.ID); errCode(err) != "InvalidNetworkInterfaceID.NotFound" {
		t.Errorf("delete by other account: %v", err)
	}
	if err := cp.DeleteNetworkInterface(ctx, rootCall(snAcct, "ec2:DeleteNetworkInterface"), eni.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cp.DescribeNetworkInterfaces(ctx, rootCall(snAcct, "ec2:DescribeNetworkInterfaces"), DescribeInput{IDs: []string{eni.ID}}); errCode(err) != "InvalidNetworkInterfaceID.NotFound" {
		t.Errorf("describe deleted: %v", err)
	}
}
