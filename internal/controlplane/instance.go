package controlplane

import (
	"context"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// Instance states and their codes, as DescribeInstances reports them.
const (
	InstancePending      = "pending"
	InstanceRunning      = "running"
	InstanceShuttingDown = "shutting-down"
	InstanceTerminated   = "terminated"
)

// InstanceStateCode is the numeric code AWS pairs with a state name.
func InstanceStateCode(state string) int {
	switch state {
	case InstanceRunning:
		return 16
	case InstanceShuttingDown:
		return 32
	case InstanceTerminated:
		return 48
	case "stopping":
		return 64
	case "stopped":
		return 80
	}
	return 0
}

// maxInstancesPerLaunch bounds one RunInstances call, standing in for the
// account's instance quota.
const maxInstancesPerLaunch = 1000

var (
	amiIDPattern          = regexp.MustCompile(`^ami-([0-9a-f]{8}|[0-9a-f]{17})$`)
	instanceIDPattern     = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)
	instanceTypePattern   = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9-]+$`)
	userInitiatedShutdown = "Client.UserInitiatedShutdown"
)

// InstanceInterfaceSpec is RunInstances' NetworkInterface.1.
type InstanceInterfaceSpec struct {
	DeviceIndex      *int
	SubnetID         string
	SecurityGroupIDs []string
	PrivateIPAddress string
	Description      string
}

// RunInstancesInput is RunInstances' parameters.
type RunInstancesInput struct {
	ImageID            string
	InstanceType       string
	MinCount, MaxCount *int
	SubnetID           string
	SecurityGroupIDs   []string
	SecurityGroupNames []string
	PrivateIPAddress   string
	KeyName            string
	ClientToken        string
	Tags               []TagSpec
	NetworkInterfaces  []InstanceInterfaceSpec
}

// InstanceView is an instance with what Describe derives from its interface
// (groups, source/dest check) and its VPC (tenancy).
type InstanceView struct {
	*cloud.Instance
	// Interface is nil once the instance is terminated.
	Interface       *InterfaceView
	Groups          []InterfaceGroup
	Tenancy         string
	SourceDestCheck bool
}

// Reservation is one launch: the instances of a RunInstances call.
type Reservation struct {
	ID        string
	OwnerID   string
	Instances []*InstanceView
}

// validate checks everything that needs no stored state.
func (in *RunInstancesInput) validate() (subnetID string, nic InstanceInterfaceSpec, err error) {
	switch {
	case in.ImageID == "":
		return "", nic, cloud.MissingParameter("ImageId")
	case !amiIDPattern.MatchString(in.ImageID):
		return "", nic, cloud.Errorf("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", in.ImageID)
	case in.InstanceType != "" && !instanceTypePattern.MatchString(in.InstanceType):
		return "", nic, cloud.Errorf("InvalidParameterValue", "Invalid value '%s' for InstanceType.", in.InstanceType)
	case in.MinCount == nil:
		return "", nic, cloud.MissingParameter("MinCount")
	case in.MaxCount == nil:
		return "", nic, cloud.MissingParameter("MaxCount")
	case *in.MinCount < 1:
		return "", nic, cloud.Errorf("InvalidParameterValue", "Value (%d) for parameter minCount is invalid. Expected a positive integer.", *in.MinCount)
	case *in.MaxCount < *in.MinCount:
		return "", nic, cloud.Errorf("InvalidParameterValue", "Value (%d) for parameter maxCount is invalid. Must be greater than or equal to minCount (%d).", *in.MaxCount, *in.MinCount)
	case *in.MinCount > maxInstancesPerLaunch:
		return "", nic, cloud.Errorf("InstanceLimitExceeded", "You have requested more instances (%d) than your current instance limit of %d allows for the specified instance type.", *in.MinCount, maxInstancesPerLaunch)
	case len(in.NetworkInterfaces) > 1:
		return "", nic, cloud.Errorf("UnsupportedOperation", "privlink instances have exactly one network interface.")
	}
	nic = InstanceInterfaceSpec{SubnetID: in.SubnetID, SecurityGroupIDs: in.SecurityGroupIDs, PrivateIPAddress: in.PrivateIPAddress}
	if len(in.NetworkInterfaces) == 1 {
		ni := in.NetworkInterfaces[0]
		switch {
		case in.SubnetID != "":
			return "", nic, cloud.Errorf("InvalidParameterCombination", "Network interfaces and an instance-level subnet ID may not be specified on the same request")
		case len(in.SecurityGroupIDs) > 0 || len(in.SecurityGroupNames) > 0:
			return "", nic, cloud.Errorf("InvalidParameterCombination", "Network interfaces and an instance-level security groups may not be specified on the same request")
		case in.PrivateIPAddress != "":
			return "", nic, cloud.Errorf("InvalidParameterCombination", "Network interfaces and an instance-level private IP address may not be specified on the same request")
		case ni.DeviceIndex == nil:
			return "", nic, cloud.Errorf("InvalidParameterValue", "Each network interface requires a device index.")
		case *ni.DeviceIndex != 0:
			return "", nic, cloud.Errorf("InvalidParameterValue", "Value (%d) for parameter deviceIndex is invalid. The primary network interface must have device index 0.", *ni.DeviceIndex)
		}
		nic = ni
	}
	if len(in.SecurityGroupNames) > 0 {
		return "", nic, cloud.Errorf("InvalidParameterCombination", "The parameter groupName cannot be used with the parameter subnet")
	}
	if nic.SubnetID == "" {
		return "", nic, cloud.Errorf("VPCIdNotSpecified", "No default VPC for this user")
	}
	if nic.PrivateIPAddress != "" && *in.MaxCount > 1 {
		return "", nic, cloud.Errorf("InvalidParameterCombination", "A private IP address can only be specified when launching a single instance.")
	}
	return nic.SubnetID, nic, nil
}

// splitInstanceTags separates TagSpecifications for instances and their interfaces.
func splitInstanceTags(specs []TagSpec) (inst, eni cloud.Tags, err error) {
	var is, es []TagSpec
	for _, s := range specs {
		switch s.ResourceType {
		case "instance":
			is = append(is, s)
		case "network-interface":
			es = append(es, s)
		case "":
			return nil, nil, cloud.MissingParameter("TagSpecification.ResourceType")
		default:
			return nil, nil, cloud.Errorf("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", s.ResourceType)
		}
	}
	if inst, err = tagsFor(is, "instance"); err != nil {
		return nil, nil, err
	}
	eni, err = tagsFor(es, "network-interface")
	return inst, eni, err
}

// RunInstances launches between MinCount and MaxCount instances (as many as
// the subnet has addresses for), each with one network interface. They start
// pending; a controller moves them to running once their namespace exists.
func (cp *ControlPlane) RunInstances(ctx context.Context, c *Call, in RunInstancesInput) (*Reservation, error) {
	subnetID, nic, err := in.validate()
	if err != nil {
		return nil, err
	}
	instTags, eniTags, err := splitInstanceTags(in.Tags)
	if err != nil {
		return nil, err
	}
	if in.InstanceType == "" {
		in.InstanceType = "t2.micro"
	}
	var res *Reservation
	err = cp.db.Update(ctx, func(tx *store.Tx) error {
		if id, err := idempotent(tx, c, in.ClientToken, in); err != nil || id != "" {
			if err != nil {
				return err
			}
			if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "instance", "*")); err != nil {
				return err
			}
			res = reservationOf(tx, c, id)
			if len(res.Instances) == 0 {
				return cloud.Errorf("IdempotentInstanceTerminated", "The client token '%s' was used by instances that no longer exist.", in.ClientToken)
			}
			return nil
		}
		subnet, err := subnetFor(tx, c, subnetID)
		if err != nil {
			return err
		}
		vpc, _ := store.Get[cloud.Vpc](tx, cloud.KindVpc, subnet.VpcID)
		if vpc == nil {
			return cloud.NotFound("InvalidVpcID.NotFound", "vpc ID", subnet.VpcID)
		}
		groups, err := checkInterfaceGroups(tx, c, vpc, nic.SecurityGroupIDs)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "instance", "*")); err != nil {
			return err
		}
		n := min(*in.MaxCount, maxInstancesPerLaunch)
		if nic.PrivateIPAddress == "" {
			n = min(n, freeAddrs(tx, subnet))
			if n < *in.MinCount {
				return cloud.Errorf("InsufficientFreeAddressesInSubnet", "There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", subnet.ID)
			}
		}
		res = &Reservation{ID: cloud.NewID("r"), OwnerID: c.Account()}
		for i := 0; i < n; i++ {
			id := cloud.NewID("i")
			eni, err := cp.allocateInterface(tx, c, subnet, InterfaceSpec{
				PrivateIP: nic.PrivateIPAddress, Description: nic.Description, SecurityGroupIDs: groups, InstanceID: id, Tags: eniTags,
			})
			if err != nil {
				return err
			}
			inst := &cloud.Instance{
				Meta:               cp.newMeta(c, id, instTags),
				ImageID:            in.ImageID,
				InstanceType:       in.InstanceType,
				State:              InstancePending,
				StateReason:        InstancePending,
				SubnetID:           subnet.ID,
				VpcID:              subnet.VpcID,
				AvailabilityZone:   subnet.AvailabilityZone,
				PrivateIPAddress:   eni.PrivateIPAddress,
				PrivateDNSName:     eni.PrivateDNSName,
				NetworkInterfaceID: eni.ID,
				SecurityGroupIDs:   append([]string(nil), groups...),
				ReservationID:      res.ID,
				KeyName:            in.KeyName,
				AmiLaunchIndex:     i,
				ClientToken:        in.ClientToken,
			}
			tx.Put(cloud.KindInstance, id, inst)
			res.Instances = append(res.Instances, instanceView(tx, inst, vpc.InstanceTenancy))
		}
		cp.rememberToken(tx, c, in.ClientToken, in, res.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// reservationOf gathers the caller's instances of a reservation.
func reservationOf(tx *store.Tx, c *Call, id string) *Reservation {
	res := &Reservation{ID: id, OwnerID: c.Account()}
	tenancy := tenancyCache(tx)
	for _, inst := range listOwned[cloud.Instance](tx, c, cloud.KindInstance, func(i *cloud.Instance) bool { return i.ReservationID == id }) {
		res.Instances = append(res.Instances, instanceView(tx, inst, tenancy(inst.VpcID)))
	}
	sort.SliceStable(res.Instances, func(i, j int) bool { return res.Instances[i].AmiLaunchIndex < res.Instances[j].AmiLaunchIndex })
	return res
}

// tenancyCache returns a per-call lookup of VPC tenancy.
func tenancyCache(tx *store.Tx) func(vpcID string) string {
	seen := map[string]string{}
	return func(vpcID string) string {
		if t, ok := seen[vpcID]; ok {
			return t
		}
		t := "default"
		if v, ok := store.Get[cloud.Vpc](tx, cloud.KindVpc, vpcID); ok && v.InstanceTenancy != "" {
			t = v.InstanceTenancy
		}
		seen[vpcID] = t
		return t
	}
}

// instanceView derives the instance's groups and source/dest check from its
// interface, where ModifyNetworkInterfaceAttribute changes them.
func instanceView(tx *store.Tx, inst *cloud.Instance, tenancy string) *InstanceView {
	v := &InstanceView{Instance: inst, Tenancy: tenancy, SourceDestCheck: true}
	if eni, ok := store.Get[cloud.NetworkInterface](tx, cloud.KindNetworkInterface, inst.NetworkInterfaceID); ok && inst.State != InstanceTerminated {
		v.Interface = interfaceView(tx, eni)
		v.SourceDestCheck = eni.SourceDestCheck
		v.Groups = v.Interface.Groups
	} else {
		v.Groups = interfaceGroups(tx, inst.SecurityGroupIDs)
	}
	return v
}

// netField reads a network field of an instance that still has its interface.
func netField(get func(v *InstanceView) string) func(v *InstanceView) []string {
	return func(v *InstanceView) []string {
		if v.Interface == nil {
			return nil
		}
		return one(get(v))
	}
}

var instanceFilters = filterer[InstanceView]{
	tags: func(v *InstanceView) cloud.Tags { return v.Tags },
	fields: fields[InstanceView]{
		"ami-launch-index":                       func(v *InstanceView) []string { return []string{strconv.Itoa(v.AmiLaunchIndex)} },
		"architecture":                           func(v *InstanceView) []string { return one("x86_64") },
		"availability-zone":                      func(v *InstanceView) []string { return one(v.AvailabilityZone) },
		"client-token":                           func(v *InstanceView) []string { return one(v.ClientToken) },
		"hypervisor":                             func(v *InstanceView) []string { return one("xen") },
		"image-id":                               func(v *InstanceView) []string { return one(v.ImageID) },
		"instance-id":                            func(v *InstanceView) []string { return one(v.ID) },
		"instance-state-code":                    func(v *InstanceView) []string { return []string{strconv.Itoa(InstanceStateCode(v.State))} },
		"instance-state-name":                    func(v *InstanceView) []string { return one(v.State) },
		"instance-type":                          func(v *InstanceView) []string { return one(v.InstanceType) },
		"instance.group-id":                      func(v *InstanceView) []string { return groupIDs(v.Groups) },
		"instance.group-name":                    func(v *InstanceView) []string { return groupNames(v.Groups) },
		"key-name":                               func(v *InstanceView) []string { return one(v.KeyName) },
		"owner-id":                               func(v *InstanceView) []string { return one(v.OwnerID) },
		"placement-group-name":                   func(v *InstanceView) []string { return nil },
		"private-dns-name":                       netField(func(v *InstanceView) string { return v.PrivateDNSName }),
		"private-ip-address":                     netField(func(v *InstanceView) string { return v.PrivateIPAddress }),
		"reservation-id":                         func(v *InstanceView) []string { return one(v.ReservationID) },
		"root-device-type":                       func(v *InstanceView) []string { return one("ebs") },
		"source-dest-check":                      func(v *InstanceView) []string { return boolStr(v.SourceDestCheck) },
		"subnet-id":                              netField(func(v *InstanceView) string { return v.SubnetID }),
		"tenancy":                                func(v *InstanceView) []string { return one(v.Tenancy) },
		"virtualization-type":                    func(v *InstanceView) []string { return one("hvm") },
		"vpc-id":                                 netField(func(v *InstanceView) string { return v.VpcID }),
		"state-reason-code":                      func(v *InstanceView) []string { return one(v.StateReason) },
		"network-interface.network-interface-id": netField(func(v *InstanceView) string { return v.NetworkInterfaceID }),
		"network-interface.subnet-id":            netField(func(v *InstanceView) string { return v.SubnetID }),
		"network-interface.vpc-id":               netField(func(v *InstanceView) string { return v.VpcID }),
		"network-interface.private-dns-name":     netField(func(v *InstanceView) string { return v.PrivateDNSName }),
		"network-interface.addresses.private-ip-address": netField(func(v *InstanceView) string { return v.PrivateIPAddress }),
		"launch-index":                                       func(v *InstanceView) []string { return []string{strconv.Itoa(v.AmiLaunchIndex)} },
		"launch-time":                                        func(v *InstanceView) []string { return one(v.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z")) },
		"monitoring-state":                                   func(v *InstanceView) []string { return one("disabled") },
		"platform-details":                                   func(v *InstanceView) []string { return one("Linux/UNIX") },
		"root-device-name":                                   func(v *InstanceView) []string { return one("/dev/xvda") },
		"reason":                                             func(v *InstanceView) []string { return one(v.TransitionReason) },
		"network-interface.description":                      netField(func(v *InstanceView) string { return v.Interface.Description }),
		"network-interface.mac-address":                      netField(func(v *InstanceView) string { return v.Interface.MacAddress }),
		"network-interface.owner-id":                         netField(func(v *InstanceView) string { return v.Interface.OwnerID }),
		"network-interface.private-ip-address":               netField(func(v *InstanceView) string { return v.PrivateIPAddress }),
		"network-interface.status":                           netField(func(v *InstanceView) string { return v.Interface.Status }),
		"network-interface.availability-zone":                netField(func(v *InstanceView) string { return v.Interface.AvailabilityZone }),
		"network-interface.source-dest-check":                netField(func(v *InstanceView) string { return boolStr(v.SourceDestCheck)[0] }),
		"network-interface.requester-managed":                netField(func(v *InstanceView) string { return "false" }),
		"network-interface.addresses.primary":                netField(func(v *InstanceView) string { return "true" }),
		"network-interface.attachment.attachment-id":         netField(func(v *InstanceView) string { return v.Interface.AttachmentID }),
		"network-interface.attachment.instance-id":           netField(func(v *InstanceView) string { return v.ID }),
		"network-interface.attachment.instance-owner-id":     netField(func(v *InstanceView) string { return v.OwnerID }),
		"network-interface.attachment.device-index":          netField(func(v *InstanceView) string { return "0" }),
		"network-interface.attachment.status":                netField(func(v *InstanceView) string { return "attached" }),
		"network-interface.attachment.delete-on-termination": netField(func(v *InstanceView) string { return "true" }),
		"network-interface.group-name": func(v *InstanceView) []string {
			if v.Interface == nil {
				return nil
			}
			return groupNames(v.Groups)
		},
		"network-interface.group-id": func(v *InstanceView) []string {
			if v.Interface == nil {
				return nil
			}
			return groupIDs(v.Groups)
		},
	},
}

func groupIDs(gs []InterfaceGroup) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.ID)
	}
	return out
}

// checkInstanceIDs refuses malformed instance IDs.
func checkInstanceIDs(ids []string) error {
	for _, id := range ids {
		if !instanceIDPattern.MatchString(id) {
			return cloud.Errorf("InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
		}
	}
	return nil
}

// missingInstances is AWS's not-found error naming every unknown ID.
func missingInstances(tx *store.Tx, c *Call, ids []string) error {
	var missing []string
	for _, id := range ids {
		if getOwned[cloud.Instance](tx, c, cloud.KindInstance, id) == nil {
			missing = append(missing, id)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return cloud.Errorf("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", missing[0])
	}
	return cloud.Errorf("InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
}

// ModifyInstanceSourceDestCheck is ModifyInstanceAttribute's
// sourceDestCheck: as on EC2, it sets the check of the instance's primary
// network interface (a NAT instance turns it off).
func (cp *ControlPlane) ModifyInstanceSourceDestCheck(ctx context.Context, c *Call, id string, check bool) error {
	if err := checkInstanceIDs([]string{id}); err != nil {
		return err
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		if err := missingInstances(tx, c, []string{id}); err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "instance", id)); err != nil {
			return err
		}
		inst, _ := store.Get[cloud.Instance](tx, cloud.KindInstance, id)
		eni, ok := store.Get[cloud.NetworkInterface](tx, cloud.KindNetworkInterface, inst.NetworkInterfaceID)
		if !ok || inst.State == InstanceShuttingDown || inst.State == InstanceTerminated {
			return cloud.Errorf("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be modified.", id)
		}
		n := store.Clone(eni)
		n.SourceDestCheck = check
		tx.Put(cloud.KindNetworkInterface, n.ID, n)
		return nil
	})
}

// DescribeInstances lists the caller's instances, grouped into reservations.
func (cp *ControlPlane) DescribeInstances(ctx context.Context, c *Call, in DescribeInput) ([]*Reservation, string, error) {
	if err := cp.checkDryRun(ctx, c); err != nil {
		return nil, "", err
	}
	if len(in.IDs) > 0 && in.Page.MaxResults != nil {
		return nil, "", cloud.Errorf("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	if err := checkInstanceIDs(in.IDs); err != nil {
		return nil, "", err
	}
	keep, err := instanceFilters.compile(in.Filters)
	if err != nil {
		return nil, "", err
	}
	want := idSet(in.IDs)
	var items []*InstanceView
	err = cp.db.View(func(tx *store.Tx) error {
		if err := missingInstances(tx, c, in.IDs); err != nil {
			return err
		}
		tenancy := tenancyCache(tx)
		for _, inst := range listOwned[cloud.Instance](tx, c, cloud.KindInstance, func(i *cloud.Instance) bool {
			return want == nil || want[i.ID]
		}) {
			if v := instanceView(tx, inst, tenancy(inst.VpcID)); keep(v) {
				items = append(items, v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	page, next, err := paginate(items, func(v *InstanceView) string { return v.ID }, in.Page, 5, 1000)
	if err != nil {
		return nil, "", err
	}
	var out []*Reservation
	byID := map[string]*Reservation{}
	for _, v := range page {
		r := byID[v.ReservationID]
		if r == nil {
			r = &Reservation{ID: v.ReservationID, OwnerID: v.OwnerID}
			byID[r.ID] = r
			out = append(out, r)
		}
		r.Instances = append(r.Instances, v)
	}
	return out, next, nil
}

// InstanceStateChange is one row of TerminateInstances' answer.
type InstanceStateChange struct {
	InstanceID    string
	PreviousState string
	CurrentState  string
}

// TerminateInstances moves instances to shutting-down; the instance
// controller tears down their namespaces and calls InstanceTerminated.
func (cp *ControlPlane) TerminateInstances(ctx context.Context, c *Call, ids []string) ([]InstanceStateChange, error) {
	if len(ids) == 0 {
		return nil, cloud.MissingParameter("InstanceId")
	}
	if err := checkInstanceIDs(ids); err != nil {
		return nil, err
	}
	var out []InstanceStateChange
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		if err := missingInstances(tx, c, ids); err != nil {
			return err
		}
		for _, id := range ids {
			if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "instance", id)); err != nil {
				return err
			}
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			inst, _ := store.Get[cloud.Instance](tx, cloud.KindInstance, id)
			change := InstanceStateChange{InstanceID: id, PreviousState: inst.State, CurrentState: inst.State}
			if inst.State == InstancePending || inst.State == InstanceRunning {
				n := store.Clone(inst)
				n.State = InstanceShuttingDown
				n.StateReason = userInitiatedShutdown
				n.TransitionReason = "User initiated (" + cp.now().UTC().Format("2006-01-02 15:04:05") + " GMT)"
				tx.Put(cloud.KindInstance, id, n)
				change.CurrentState = n.State
			}
			out = append(out, change)
		}
		return nil
	})
	return out, err
}

// InstanceRunning marks a pending instance running once the data plane has
// built it. Calling it again, or for an instance already past pending, is a
// no-op; an unknown instance is InvalidInstanceID.NotFound.
func (cp *ControlPlane) InstanceRunning(ctx context.Context, id string) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		inst, ok := store.Get[cloud.Instance](tx, cloud.KindInstance, id)
		if !ok {
			return cloud.NotFound("InvalidInstanceID.NotFound", "instance ID", id)
		}
		if inst.State != InstancePending {
			return nil
		}
		n := store.Clone(inst)
		n.State, n.StateReason = InstanceRunning, ""
		tx.Put(cloud.KindInstance, id, n)
		return nil
	})
}

// InstanceTerminated completes a termination: the instance becomes
// terminated and its interface is released. Repeating it is a no-op; an
// instance that is not shutting down is IncorrectState.
func (cp *ControlPlane) InstanceTerminated(ctx context.Context, id string) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		inst, ok := store.Get[cloud.Instance](tx, cloud.KindInstance, id)
		if !ok {
			return cloud.NotFound("InvalidInstanceID.NotFound", "instance ID", id)
		}
		switch inst.State {
		case InstanceTerminated:
			return nil
		case InstanceShuttingDown:
		default:
			return cloud.Errorf("IncorrectState", "The instance '%s' is %s, not shutting-down.", id, inst.State)
		}
		n := store.Clone(inst)
		if eni, ok := store.Get[cloud.NetworkInterface](tx, cloud.KindNetworkInterface, inst.NetworkInterfaceID); ok && eni.InstanceID == id {
			// The last groups the interface had stay visible on the terminated instance.
			n.SecurityGroupIDs = append([]string(nil), eni.SecurityGroupIDs...)
			tx.Delete(cloud.KindNetworkInterface, eni.ID)
		}
		n.State = InstanceTerminated
		n.TerminatedAt = cp.now().UTC().Format(time.RFC3339Nano)
		tx.Put(cloud.KindInstance, id, n)
		return nil
	})
}

// PurgeTerminatedInstances forgets instances terminated before olderThan,
// as AWS stops listing terminated instances after a while.
func (cp *ControlPlane) PurgeTerminatedInstances(ctx context.Context, olderThan time.Time) (int, error) {
	n := 0
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		var purge []string
		tx.Each(cloud.KindInstance, func(id string, v any) bool {
			inst := v.(*cloud.Instance)
			if inst.State != InstanceTerminated {
				return true
			}
			if at, err := time.Parse(time.RFC3339Nano, inst.TerminatedAt); err != nil || at.Before(olderThan) {
				purge = append(purge, id)
			}
			return true
		})
		for _, id := range purge {
			tx.Delete(cloud.KindInstance, id)
		}
		n = len(purge)
		return nil
	})
	return n, err
}
